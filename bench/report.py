"""Targets, the table, the plot and the README section of `make bench`."""

from __future__ import annotations

import os
import platform
import re
import statistics
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"
MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _crowd(r: dict[str, Any], key: str, language: str) -> list[dict[str, Any]]:
    trials = r[key]["trials"]
    ceiling = statistics.median(t["ceiling_per_s"] for t in trials)
    crowd = statistics.median(t["runner"]["per_second"] for t in trials)
    errors = sum(t["runner"]["errors"] for t in trials)
    return [
        {
            "target": f"50 clients, {language}: throughput ≥ 90% of the engine ceiling"
            " (medians of the pairs)",
            "ok": crowd >= 0.9 * ceiling,
            "value": f"{crowd:.2f}/s vs {ceiling:.2f}/s ({100 * crowd / ceiling:.0f}%)",
        },
        {
            "target": f"50 clients, {language}: 0 errors (every pair)",
            "value": str(errors),
            "ok": errors == 0,
        },
    ]


def _p50(r: dict[str, Any], scenario: str, limit_ms: float) -> dict[str, Any]:
    p50 = r["runner"][scenario]["1"]["p50_ms"]
    return {
        "target": f"{scenario} p50 ≤ {limit_ms:g} ms (1 client)",
        "value": f"{p50} ms",
        "ok": p50 <= limit_ms,
    }


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    hello = r["runner"]["hello check"]
    speedup = r["baseline_docker_run"]["p50_ms"] / hello["1"]["p50_ms"]
    return [
        _p50(r, "hello check", 25),
        {
            "target": "≥ 10× faster than `docker run --rm`",
            "value": f"{speedup:.1f}×",
            "ok": speedup >= 10,
        },
        _p50(r, "5-test check", 60),
        _p50(r, "hello JS check", 60),
        _p50(r, "5-test JS check", 150),
        *_crowd(r, "crowd_against_ceiling", "Python"),
        *_crowd(r, "crowd_against_ceiling_js", "JavaScript"),
        {
            "target": "a 5-test check uses one container",
            "value": str(r["containers_per_5_test_check"]),
            "ok": r["containers_per_5_test_check"] == 1,
        },
        {
            "target": "200 idle connections cost < 100 MiB",
            "value": f"{r['idle_connections']['cost_mib']} MiB",
            "ok": r["idle_connections"]["cost_mib"] < 100,
        },
    ]


def table(r: dict[str, Any]) -> str:
    b = r["baseline_docker_run"]
    lines = [
        f"Measured {r['when']} on {r['machine']['cpus']} CPUs (pool {r['settings']['pool_size']}, "
        f"{r['settings']['max_concurrent']} sandboxes at once).",
        "",
        "| scenario | clients | p50 ms | p95 ms | p99 ms | per s | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| `docker run --rm` hello (naive baseline) | 1 | {b['p50_ms']} | {b['p95_ms']} | {b['p99_ms']} "
        f"| {b['per_second']} | {b['errors']} |",
    ]
    for name, levels in r["runner"].items():
        for clients, s in levels.items():
            lines.append(
                f"| runner: {name} | {clients} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} "
                f"| {s['per_second']} | {s['errors']} |"
            )
    ceiling = ", ".join(f"{k}: {v}/s" for k, v in r["engine_ceiling_per_s"].items())
    crowd = r["crowd_against_ceiling"]

    def pairs(key: str) -> str:
        return "; ".join(
            f"{t['runner']['per_second']}/s vs {t['ceiling_per_s']}/s "
            f"({100 * t['runner']['per_second'] / t['ceiling_per_s']:.0f}%)"
            for t in r[key]["trials"]
        )

    cold = ", ".join(f"{phase} {ms} ms" for phase, ms in r["cold_phases_ms"].items())
    idle = r["idle_connections"]

    def later_test(hello: str, five: str) -> str:
        """What each test after the first adds (the first runs in the prepared interpreter)."""
        p50 = {name: r["runner"][name]["1"]["p50_ms"] for name in (hello, five)}
        return f"{(p50[five] - p50[hello]) / 4:.1f} ms"

    lines += [
        "",
        f"Raw engine ceiling (create/start/wait/logs/remove, by concurrency): {ceiling}.",
        f"50 clients against the ceiling at concurrency {crowd['concurrency']}, measured in "
        f"alternation (runner vs engine, per pair), Python: {pairs('crowd_against_ceiling')};"
        f" JavaScript (against the JavaScript image's own ceiling):"
        f" {pairs('crowd_against_ceiling_js')}. The 50-client rows above are the median pairs'.",
        f"A cold submission, phase by phase (medians): {cold}.",
        "Each test after a check's first, (5-test p50 − hello p50) / 4 (its interpreter started"
        f" during the test before): Python {later_test('hello check', '5-test check')},"
        f" JavaScript {later_test('hello JS check', '5-test JS check')}.",
        f"Server memory: {idle['rss_before_mib']} MiB idle, {idle['rss_with_connections_mib']} MiB with "
        f"{idle['connections']} idle WebSockets.",
        "",
        "| target | measured | holds |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {t['target']} | {t['value']} | {'yes' if t['ok'] else '**no**'} |" for t in r["targets"]
    ]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, levels in r["runner"].items():
        if len(levels) < 2:
            continue
        xs = [int(c) for c in levels]
        for q, style in (("p50_ms", "-o"), ("p95_ms", "--x")):
            ax.plot(xs, [levels[c][q] for c in levels], style, label=f"{name} {q[:3]}")
    ax.axhline(
        r["baseline_docker_run"]["p50_ms"], color="grey", linestyle=":", label="docker run --rm p50"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("latency, send → finished (ms)")
    ax.set_title("decode-runner: latency against concurrency")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def update_readme(text: str, markers: tuple[str, str] = MARKERS) -> None:
    content = README.read_text(encoding="utf-8")
    start, end = markers
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    README.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", content), encoding="utf-8")
