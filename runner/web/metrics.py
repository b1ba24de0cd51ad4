"""Prometheus metrics of one app: the counters kept here, the gauges read at scrape time, every
sample labelled with the node id so that the nodes of a cluster stay apart once scraped.

Each ``Metrics`` owns a ``prometheus_client.CollectorRegistry``, never the process-global one: two
apps in one process (tests) keep separate counts, and the library's default process/GC collectors
stay out. prometheus-client writes the text exposition, escaping included. The families come from
custom collectors rather than the library's ``Counter``/``Histogram``, which add ``_created``
samples that can only be switched off for the whole process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

DEFAULT_NODE = "default"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NODE_LABEL = "node"


@dataclass
class _Histogram:
    """Cumulative bucket counts, as the exposition wants them."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(DURATION_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1
        self.total += value
        self.count += 1

    def exposed(self) -> list[tuple[str, float]]:
        bounds = [repr(float(bound)) for bound in DURATION_BUCKETS]  # "1.0", as the library writes
        return [*zip(bounds, self.buckets, strict=True), ("+Inf", self.count)]


@dataclass(frozen=True)
class Gauges:
    queue_length: int
    sandboxes_busy: int
    connections: int
    pool_ready: dict[str, int]
    outbox_pending: int = 0
    outbox_abandoned: int = 0
    webhooks_delivered: int = 0
    webhook_failures: int = 0


@dataclass
class _Counts:
    runs: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    durations: dict[tuple[str, str], _Histogram] = field(default_factory=dict)


class _CountsCollector(Collector):
    """The node's identity and the counts kept since the app started."""

    def __init__(self, counts: _Counts, node: str) -> None:
        self._counts = counts
        self._node = node

    def collect(self) -> Iterator[Metric]:
        node = self._node
        info = GaugeMetricFamily(
            "decode_node_info", "The node serving this endpoint (always 1).", labels=[NODE_LABEL]
        )
        info.add_metric([node], 1)
        yield info
        runs = CounterMetricFamily(
            "decode_runs_total",
            "Submissions ended, by outcome status.",
            labels=["language", "mode", "status", NODE_LABEL],
        )
        for (language, mode, status), n in sorted(self._counts.runs.items()):
            runs.add_metric([language, mode, status, node], n)
        yield runs
        rejections = CounterMetricFamily(
            "decode_rejections_total",
            "Refused client requests, by code.",
            labels=["code", NODE_LABEL],
        )
        for code, n in sorted(self._counts.rejections.items()):
            rejections.add_metric([code, node], n)
        yield rejections
        durations = HistogramMetricFamily(
            "decode_run_duration_seconds",
            "Wall time of submissions in the sandbox.",
            labels=["language", "mode", NODE_LABEL],
        )
        for (language, mode), hist in sorted(self._counts.durations.items()):
            durations.add_metric([language, mode, node], hist.exposed(), hist.total)
        yield durations


class _GaugesCollector(Collector):
    """The values read at scrape time: ``snapshot`` is set only while ``Metrics.render`` runs."""

    def __init__(self, node: str) -> None:
        self._node = node
        self.snapshot: Gauges | None = None

    def describe(self) -> Iterator[Metric]:
        # Names only, for the registry's duplicate check, whether or not a scrape is under way.
        return _gauge_families(Gauges(0, 0, 0, {}), self._node)

    def collect(self) -> Iterator[Metric]:
        if self.snapshot is not None:
            yield from _gauge_families(self.snapshot, self._node)


def _gauge_families(gauges: Gauges, node: str) -> Iterator[Metric]:
    for name, value, text in (
        ("decode_queue_length", gauges.queue_length, "Submissions waiting for a sandbox."),
        ("decode_sandboxes_busy", gauges.sandboxes_busy, "Sandboxes running a submission."),
        ("decode_connections", gauges.connections, "Open WebSocket connections."),
        ("decode_outbox_pending", gauges.outbox_pending, "Webhook events not yet delivered."),
        (
            "decode_outbox_abandoned",
            gauges.outbox_abandoned,
            "Webhook events given up on (kept for outbox_keep_days).",
        ),
    ):
        gauge = GaugeMetricFamily(name, text, labels=[NODE_LABEL])
        gauge.add_metric([node], value)
        yield gauge
    for name, value, text in (
        ("decode_webhooks_delivered_total", gauges.webhooks_delivered, "Events delivered."),
        (
            "decode_webhook_failures_total",
            gauges.webhook_failures,
            "Failed delivery attempts (each is retried until abandoned).",
        ),
    ):
        counter = CounterMetricFamily(name, text, labels=[NODE_LABEL])
        counter.add_metric([node], value)
        yield counter
    pool = GaugeMetricFamily(
        "decode_pool_ready",
        "Warm containers waiting, by language.",
        labels=["language", NODE_LABEL],
    )
    for language, ready in sorted(gauges.pool_ready.items()):
        pool.add_metric([language, node], ready)
    yield pool


class Metrics:
    """Counters kept by the server in a registry of its own; ``render`` adds the gauges read at
    scrape time. Every sample carries ``node="<node>"``."""

    def __init__(self, node: str = DEFAULT_NODE) -> None:
        if not node:
            raise ValueError("the node id labelling the metrics must not be empty")
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        self._counts = _Counts()
        self._gauges = _GaugesCollector(node)
        self.registry.register(_CountsCollector(self._counts, node))
        self.registry.register(self._gauges)

    def observe_run(self, language: str, mode: str, status: str, duration_s: float) -> None:
        self._counts.runs[(language, mode, status)] += 1
        self._counts.durations.setdefault((language, mode), _Histogram()).observe(duration_s)

    def reject(self, code: str) -> None:
        self._counts.rejections[code] += 1

    def render(self, gauges: Gauges) -> str:
        """The text exposition (format 0.0.4, served as such by /metrics) of every family, with
        ``gauges`` as read now."""
        self._gauges.snapshot = gauges
        try:
            return generate_latest(self.registry).decode()
        finally:
            self._gauges.snapshot = None
