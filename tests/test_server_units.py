"""Pure pieces of the server: capacity, rate limit, origins, metrics, ids, rendering, CSP."""

from __future__ import annotations

import anyio
import pytest
from starlette.datastructures import Headers

from runner.web.capacity import Capacity, QueueFull, RateLimiter
from runner.web.connection import origin_allowed
from runner.web.identity import InvalidLearner, new_learner, parse_learner
from runner.web.metrics import Gauges, Metrics
from runner.web.pages import content_security_policy
from runner.web.render import instructions_html


@pytest.mark.anyio
async def test_capacity_queue_is_fifo_with_decreasing_positions() -> None:
    capacity = Capacity(slots=1, queue_size=10)
    order: list[int] = []
    positions: dict[int, list[int]] = {i: [] for i in range(4)}
    release = anyio.Event()

    async def client(i: int) -> None:
        async def report(position: int) -> None:
            positions[i].append(position)

        async with capacity.slot(report):
            order.append(i)
            if i == 0:
                await release.wait()
            else:
                await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(client, i)
            await anyio.sleep(0.01)
        assert capacity.queued == 3 and capacity.running == 1
        release.set()
    assert order == [0, 1, 2, 3]
    assert positions == {0: [], 1: [1], 2: [2, 1], 3: [3, 2, 1]}
    assert (capacity.running, capacity.queued) == (0, 0)


@pytest.mark.anyio
async def test_capacity_full_queue_refuses_at_once_and_cancelled_waiters_leave() -> None:
    capacity = Capacity(slots=1, queue_size=1)
    hold = anyio.Event()

    async def holder() -> None:
        async with capacity.slot(_ignore):
            await hold.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.sleep(0.01)
        waiting = anyio.CancelScope()
        tg.start_soon(_wait_in, capacity, waiting)
        await anyio.sleep(0.01)
        assert capacity.queued == 1
        with pytest.raises(QueueFull):
            async with capacity.slot(_ignore):
                pass
        waiting.cancel()
        await anyio.sleep(0.01)
        assert capacity.queued == 0
        hold.set()
    assert (capacity.running, capacity.queued) == (0, 0)


async def _ignore(position: int) -> None:
    return None


async def _wait_in(capacity: Capacity, scope: anyio.CancelScope) -> None:
    with scope:
        async with capacity.slot(_ignore):
            await anyio.sleep_forever()


def test_rate_limiter_token_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    now[0] += 20.0  # one token back
    assert [limiter.allow("a") for _ in range(2)] == [True, False]
    assert RateLimiter(per_minute=0).allow("anyone")


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "example.org", (), True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", (), True),
        ("https://mooc.example.org", "mooc.example.org", (), True),
        ("https://mooc.example.org:443", "mooc.example.org", (), True),
        ("HTTPS://MOOC.example.org", "mooc.example.org", (), True),
        ("http://evil.example", "127.0.0.1:8000", (), False),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", (), False),
        ("null", "127.0.0.1:8000", (), False),
        ("https://lms.example.org", "runner.example.org", ("https://lms.example.org",), True),
        ("https://lms.example.org", "runner.example.org", ("https://other.example.org",), False),
    ],
)
def test_origin_allowed(
    origin: str | None, host: str, allowed: tuple[str, ...], expected: bool
) -> None:
    headers = {"host": host} | ({"origin": origin} if origin is not None else {})
    assert origin_allowed(Headers(headers), allowed) is expected


def test_learner_ids_are_32_hex_and_validated() -> None:
    learner = new_learner()
    assert parse_learner(learner) == learner and len(learner) == 32
    assert parse_learner(None) is None and parse_learner("") is None
    for bad in ("x" * 32, learner.upper(), learner[:-1], learner + "0", "../etc"):
        with pytest.raises(InvalidLearner):
            parse_learner(bad)


def test_metrics_exposition_format() -> None:
    metrics = Metrics()
    metrics.observe_run("python", "run", "ok", 0.3)
    metrics.observe_run("python", "run", "timeout", 12.0)
    metrics.reject("busy")
    text = metrics.render(Gauges(queue_length=2, sandboxes_busy=1, connections=3))
    assert 'decode_runs_total{language="python",mode="run",status="ok"} 1' in text
    assert 'decode_rejections_total{code="busy"} 1' in text
    assert 'decode_run_duration_seconds_bucket{language="python",mode="run",le="0.5"} 1' in text
    assert 'decode_run_duration_seconds_bucket{language="python",mode="run",le="+Inf"} 2' in text
    assert 'decode_run_duration_seconds_count{language="python",mode="run"} 2' in text
    assert "decode_queue_length 2\n" in text and "decode_sandboxes_busy 1\n" in text
    assert "# TYPE decode_run_duration_seconds histogram" in text
    assert text.endswith("\n")


def test_instructions_html_renders_markdown_and_strips_html() -> None:
    html = instructions_html(
        "# Titre\n\nÉcris `print`.\n\n<script>alert(1)</script>\n\n"
        '[lien](javascript:alert(1)) <img src=x onerror="alert(1)">'
    )
    assert "<h1>Titre</h1>" in html and "<code>print</code>" in html
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html


def test_csp_frame_ancestors_depend_on_embedding() -> None:
    page = content_security_policy(embed=False, embed_origins=("https://lms.example.org",))
    embed = content_security_policy(embed=True, embed_origins=("https://lms.example.org",))
    assert page.endswith("frame-ancestors 'none'")
    assert embed.endswith("frame-ancestors 'self' https://lms.example.org")
    for policy in (page, embed):
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
