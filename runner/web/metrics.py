"""Prometheus metrics, written as text exposition 0.0.4 by hand.

prometheus-client is not used: its process-global registry clashes with several apps per process
(tests), and these few families are simpler to write than to configure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(DURATION_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1
        self.total += value
        self.count += 1


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


class Metrics:
    """Counters kept by the server; ``render`` adds the gauges read at scrape time."""

    def __init__(self) -> None:
        self.runs: Counter[tuple[str, str, str]] = Counter()
        self.rejections: Counter[str] = Counter()
        self.durations: dict[tuple[str, str], _Histogram] = {}

    def observe_run(self, language: str, mode: str, status: str, duration_s: float) -> None:
        self.runs[(language, mode, status)] += 1
        self.durations.setdefault((language, mode), _Histogram()).observe(duration_s)

    def reject(self, code: str) -> None:
        self.rejections[code] += 1

    def render(self, gauges: Gauges) -> str:
        lines = _header("decode_runs_total", "counter", "Submissions ended, by outcome status.")
        for (language, mode, status), n in sorted(self.runs.items()):
            lines.append(
                f"decode_runs_total{_labels(language=language, mode=mode, status=status)} {n}"
            )
        lines += _header("decode_rejections_total", "counter", "Refused client requests, by code.")
        for code, n in sorted(self.rejections.items()):
            lines.append(f"decode_rejections_total{_labels(code=code)} {n}")
        lines += self._render_durations()
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
            lines += _header(name, "gauge", text)
            lines.append(f"{name} {value}")
        for name, value, text in (
            ("decode_webhooks_delivered_total", gauges.webhooks_delivered, "Events delivered."),
            (
                "decode_webhook_failures_total",
                gauges.webhook_failures,
                "Failed delivery attempts (each is retried until abandoned).",
            ),
        ):
            lines += _header(name, "counter", text)
            lines.append(f"{name} {value}")
        lines += _header("decode_pool_ready", "gauge", "Warm containers waiting, by language.")
        for language, ready in sorted(gauges.pool_ready.items()):
            lines.append(f"decode_pool_ready{_labels(language=language)} {ready}")
        return "\n".join(lines) + "\n"

    def _render_durations(self) -> list[str]:
        name = "decode_run_duration_seconds"
        lines = _header(name, "histogram", "Wall time of submissions in the sandbox.")
        for (language, mode), hist in sorted(self.durations.items()):
            for bound, n in zip(DURATION_BUCKETS, hist.buckets, strict=True):
                labels = _labels(language=language, mode=mode, le=_number(bound))
                lines.append(f"{name}_bucket{labels} {n}")
            labels = _labels(language=language, mode=mode, le="+Inf")
            lines.append(f"{name}_bucket{labels} {hist.count}")
            plain = _labels(language=language, mode=mode)
            lines.append(f"{name}_sum{plain} {_number(hist.total)}")
            lines.append(f"{name}_count{plain} {hist.count}")
        return lines


def _header(name: str, kind: str, text: str) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value))
