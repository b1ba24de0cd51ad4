"""Latency summaries."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    per_second: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize(latencies_s: list[float], errors: int, wall_s: float) -> Summary:
    values = sorted(latencies_s)
    return Summary(
        count=len(values),
        errors=errors,
        p50_ms=round(statistics.median(values) * 1000, 1) if values else float("nan"),
        p95_ms=round(percentile(values, 0.95) * 1000, 1),
        p99_ms=round(percentile(values, 0.99) * 1000, 1),
        per_second=round(len(values) / wall_s, 2) if wall_s > 0 else 0.0,
    )
