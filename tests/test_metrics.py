"""The Prometheus exposition of runner/web/metrics.py: per-app registry, node label, parse round-trip."""

from __future__ import annotations

import prometheus_client
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from runner.web.metrics import DURATION_BUCKETS, Gauges, Metrics

FAMILIES = {
    "decode_node_info": "gauge",
    "decode_runs": "counter",
    "decode_rejections": "counter",
    "decode_run_duration_seconds": "histogram",
    "decode_queue_length": "gauge",
    "decode_sandboxes_busy": "gauge",
    "decode_connections": "gauge",
    "decode_outbox_pending": "gauge",
    "decode_outbox_abandoned": "gauge",
    "decode_webhooks_delivered": "counter",
    "decode_webhook_failures": "counter",
    "decode_pool_ready": "gauge",
}
IDLE = Gauges(queue_length=0, sandboxes_busy=0, connections=0, pool_ready={})


def _samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(text: str, name: str, **labels: str) -> float | None:
    found = [
        s.value for s in _samples(text) if s.name == name and labels.items() <= s.labels.items()
    ]
    assert len(found) <= 1, f"{name}{labels} matches several samples"
    return found[0] if found else None


def test_metrics_families_parse_with_their_types() -> None:
    metrics = Metrics()
    metrics.observe_run("python", "run", "ok", 0.3)
    text = metrics.render(Gauges(queue_length=2, sandboxes_busy=1, connections=3, pool_ready={}))
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families == FAMILIES
    assert _value(text, "decode_queue_length") == 2
    assert _value(text, "decode_connections") == 3
    assert _value(text, "decode_node_info", node="default") == 1


def test_metrics_apps_in_one_process_keep_separate_counts() -> None:
    first, second = Metrics("a"), Metrics("b")
    first.observe_run("python", "check", "ok", 1.0)
    first.reject("busy")
    assert first.registry is not second.registry
    assert first.registry is not prometheus_client.REGISTRY
    text = second.render(IDLE)
    assert _value(text, "decode_runs_total") is None
    assert _value(text, "decode_rejections_total") is None
    assert _value(first.render(IDLE), "decode_runs_total", status="ok") == 1
    assert prometheus_client.REGISTRY.get_sample_value("decode_node_info", {"node": "a"}) is None


def test_metrics_node_label_on_every_sample() -> None:
    metrics = Metrics("node-7")
    metrics.observe_run("javascript", "run", "error", 0.05)
    metrics.reject("origin")
    gauges = Gauges(1, 1, 1, {"python": 1}, outbox_pending=1, webhooks_delivered=4)
    samples = _samples(metrics.render(gauges))
    assert len(samples) > 20
    assert {s.labels.get("node") for s in samples} == {"node-7"}


def test_metrics_no_created_samples() -> None:
    metrics = Metrics()
    metrics.observe_run("python", "run", "ok", 0.3)
    metrics.reject("busy")
    assert "_created" not in metrics.render(IDLE)


def test_metrics_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    for duration in (0.05, 0.5, 0.5, 2.0, 45.0):  # 0.5 sits on a bound: counted in le="0.5"
        metrics.observe_run("python", "run", "ok", duration)
    samples = _samples(metrics.render(IDLE))
    buckets = [
        (s.labels["le"], s.value)
        for s in samples
        if s.name == "decode_run_duration_seconds_bucket" and s.labels["language"] == "python"
    ]
    bounds = [float(le) for le, _ in buckets]
    assert bounds == [*DURATION_BUCKETS, float("inf")]
    assert [n for _, n in buckets] == [1, 1, 3, 3, 4, 4, 4, 4, 5]
    text = metrics.render(IDLE)
    assert _value(text, "decode_run_duration_seconds_count") == 5
    assert _value(text, "decode_run_duration_seconds_sum") == pytest.approx(48.05)


def test_metrics_rejections_counted_by_code() -> None:
    metrics = Metrics()
    for code in ("too_many_connections", "rate_limited", "too_many_connections"):
        metrics.reject(code)
    text = metrics.render(IDLE)
    assert _value(text, "decode_rejections_total", code="too_many_connections") == 2
    assert _value(text, "decode_rejections_total", code="rate_limited") == 1


def test_metrics_gauges_are_the_ones_given_to_render() -> None:
    metrics = Metrics()
    assert _value(metrics.render(Gauges(5, 0, 0, {"python": 3})), "decode_queue_length") == 5
    text = metrics.render(Gauges(0, 0, 0, {"python": 1}, outbox_abandoned=2, webhook_failures=7))
    assert _value(text, "decode_queue_length") == 0
    assert _value(text, "decode_pool_ready", language="python") == 1
    assert _value(text, "decode_outbox_abandoned") == 2
    assert _value(text, "decode_webhook_failures_total") == 7


def test_metrics_empty_node_refused() -> None:
    with pytest.raises(ValueError, match="node"):
        Metrics("")


@given(value=st.text(min_size=1), node=st.text(min_size=1))
def test_metrics_label_values_round_trip(value: str, node: str) -> None:
    metrics = Metrics(node)
    metrics.reject(value)
    metrics.observe_run(value, "run", "ok", 1.0)
    text = metrics.render(Gauges(0, 0, 0, {value: 1}))
    assert _value(text, "decode_rejections_total", code=value) == 1
    assert _value(text, "decode_runs_total", language=value) == 1
    assert _value(text, "decode_pool_ready", language=value) == 1
    assert {s.labels["node"] for s in _samples(text)} == {node}


def test_metrics_quotes_and_newlines_escaped() -> None:
    metrics = Metrics('node "x"')
    metrics.reject('say "hi"\nback\\slash')
    text = metrics.render(IDLE)
    assert r'code="say \"hi\"\nback\\slash"' in text
    assert _value(text, "decode_rejections_total", code='say "hi"\nback\\slash') == 1
