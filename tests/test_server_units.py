"""Pure pieces of the server: capacity, rate limit, origins, metrics, ids, rendering, CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.datastructures import Headers

from runner.exercises import Exercise, TestCase
from runner.identity.keys import KeyResolver
from runner.identity.platforms import Platforms
from runner.identity.webhooks import DeliveryPolicy, Dispatcher
from runner.sandbox import Finished, Language, Outcome, Output, RunFinished, RunStarted
from runner.settings import Settings
from runner.store import AccountStore, OutboxStore, ProgressStore
from runner.web.app import build_lti
from runner.web.capacity import Capacity, QueueFull, RateLimiter
from runner.web.connection import origin_allowed
from runner.web.edges import host_allowed
from runner.web.jobs import Job
from runner.web.learners import InvalidLearner, Learner, new_learner, parse_learner
from runner.web.metrics import Gauges, Metrics
from runner.web.outbound import Outbound
from runner.web.pages import content_security_policy
from runner.web.protocol import Mode
from runner.web.render import instructions_html
from runner.web.runtime import Runtime


@pytest.mark.anyio
async def test_capacity_queue_is_fifo_with_decreasing_positions() -> None:
    capacity = Capacity(slots=1, queue_size=10, report_every_s=0.001)
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
                await anyio.sleep(0.05)

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
async def test_capacity_reports_places_at_most_once_per_interval_but_admits_at_once() -> None:
    """Releases wake only the admitted waiter: no report storm, and no wait for the timer."""
    capacity = Capacity(slots=1, queue_size=10, report_every_s=60)
    positions: list[int] = []
    admitted_after: list[float] = []

    async def last_in_line(position: int) -> None:
        positions.append(position)

    async def quick() -> None:
        async with capacity.slot(_ignore):
            await anyio.sleep(0.01)

    started = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(quick)
            await anyio.sleep(0)

        async def waiter() -> None:
            async with capacity.slot(last_in_line):
                admitted_after.append(anyio.current_time() - started)

        tg.start_soon(waiter)
    assert positions == [3]  # its place on arrival; the changes fell within the interval
    assert admitted_after[0] < 5


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
    ("origin", "host", "allowed", "secure", "expected"),
    [
        (None, "example.org", (), False, True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", (), False, True),
        ("https://mooc.example.org", "mooc.example.org", (), True, True),
        ("https://mooc.example.org:443", "mooc.example.org", (), True, True),
        ("HTTPS://MOOC.example.org", "mooc.example.org", (), True, True),
        ("http://evil.example", "127.0.0.1:8000", (), False, False),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", (), False, False),
        ("null", "127.0.0.1:8000", (), False, False),
        ("https://lms.example.org", "runner.example.org", ("https://lms.example.org",), True, True),
        (
            "https://lms.example.org",
            "runner.example.org",
            ("https://other.example.org",),
            True,
            False,
        ),
        # the scheme counts: an https page is not the http server's own origin, nor the reverse
        ("https://127.0.0.1:8000", "127.0.0.1:8000", (), False, False),
        ("http://mooc.example.org", "mooc.example.org", (), True, False),
    ],
)
def test_origin_allowed(
    origin: str | None, host: str, allowed: tuple[str, ...], secure: bool, expected: bool
) -> None:
    headers = {"host": host} | ({"origin": origin} if origin is not None else {})
    assert origin_allowed(Headers(headers), allowed, secure) is expected


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", "localhost"), True),
        ("LOCALHOST", ("127.0.0.1", "localhost"), True),
        ("[::1]:8000", ("[::1]",), True),
        ("rebind.evil.example", ("127.0.0.1", "localhost"), False),
        ("rebind.evil.example:8000", ("127.0.0.1",), False),
        ("", ("127.0.0.1",), False),
        ("runner.example.org", ("*.example.org",), True),
        ("example.org.evil.net", ("*.example.org",), False),
        ("anything", ("*",), True),
    ],
)
def test_host_allowed(host: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


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
    pool = {"python": 2, "javascript": 0}
    text = metrics.render(Gauges(queue_length=2, sandboxes_busy=1, connections=3, pool_ready=pool))
    run = {"language": "python", "mode": "run", "node": "default"}
    assert _sample(text, "decode_runs_total", **run, status="ok") == 1
    assert _sample(text, "decode_rejections_total", code="busy", node="default") == 1
    assert _sample(text, "decode_run_duration_seconds_bucket", **run, le="0.5") == 1
    assert _sample(text, "decode_run_duration_seconds_bucket", **run, le="+Inf") == 2
    assert _sample(text, "decode_run_duration_seconds_count", **run) == 2
    assert _sample(text, "decode_queue_length", node="default") == 2
    assert _sample(text, "decode_sandboxes_busy", node="default") == 1
    assert _sample(text, "decode_pool_ready", language="python", node="default") == 2
    assert "# TYPE decode_run_duration_seconds histogram" in text
    assert text.endswith("\n")


def _sample(text: str, name: str, **labels: str) -> float:
    (value,) = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels == labels
    ]
    return value


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


# Jobs, with the sandbox session replaced by a script of events (no Docker).

ECHO = Exercise(
    id="echo",
    title="Écho",
    language=Language.PYTHON,
    instructions="# Écho",
    starter="",
    solution="print(input())",
    hints=(),
    tests=(TestCase("Un", stdin="a\n", expected="a"), TestCase("Deux", stdin="b\n", expected="b")),
    limits={"time_s": 3.0},
)
UNAVAILABLE = "Le service d'exécution est momentanément indisponible."


class ScriptedSession:
    """Yields ``events``; an exception among them is raised instead, as a broken sandbox would."""

    def __init__(self, events: list[object]) -> None:
        self.events = events

    async def __aiter__(self) -> AsyncIterator[object]:
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event

    async def stop(self) -> None:
        return None


class ScriptedSandbox:
    """A sandbox whose every session plays the same events."""

    def __init__(self, events: list[object]) -> None:
        self.events = events

    @asynccontextmanager
    async def session(self, submission: object) -> AsyncIterator[ScriptedSession]:
        yield ScriptedSession(self.events)


async def _job_messages(settings: Settings, mode: Mode, events: list[object]) -> list[Any]:
    """Every message a job sends; the store is never opened, so every write fails."""
    store = ProgressStore(settings.database_url)
    outbound = Outbound()
    policy = DeliveryPolicy()
    dispatcher = Dispatcher(OutboxStore(store), AccountStore(store), policy, {})
    runtime = Runtime(
        settings,
        sandbox=ScriptedSandbox(events),  # type: ignore[arg-type]
        store=store,
        accounts=AccountStore(store),
        platforms=Platforms(),
        keys=KeyResolver(outbound.fetch_json),
        dispatcher=dispatcher,
        lti=build_lti(settings, store, outbound),
    )
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await Job(runtime, Learner("a" * 32), ECHO, "print(input())", mode, send).run()
    await outbound.close()
    assert not runtime.jobs
    return sent


def _ran(index: int, stdout: str) -> RunFinished:
    return RunFinished(index, Outcome.OK, 0, 5.0, stdout, "")


@pytest.mark.anyio
async def test_job_started_says_the_code_is_not_saved_when_the_store_fails(
    settings: Settings,
) -> None:
    events = [
        RunStarted(0),
        Output(0, "stdout", "a\n"),
        _ran(0, "a\n"),
        Finished(Outcome.OK, 0, 9.0, 1),
    ]
    sent = await _job_messages(settings, Mode.RUN, events)
    assert sent[0] == {
        "type": "started",
        "mode": "run",
        "exercise": "echo",
        "total": 1,
        "saved": False,
    }
    assert [m["type"] for m in sent] == ["started", "output", "finished"]
    assert sent[-1]["status"] == "ok"


@pytest.mark.anyio
async def test_job_internal_fault_in_a_check_still_ends_with_one_finished(
    settings: Settings,
) -> None:
    sent = await _job_messages(settings, Mode.CHECK, [_ran(0, "a\n"), RuntimeError("boom")])
    assert [m["type"] for m in sent] == ["started", "test", "error", "finished"]
    assert sent[2]["code"] == "internal"
    finished = sent[-1]
    assert (finished["mode"], finished["status"]) == ("check", "unavailable")
    assert (finished["passed"], finished["total"]) == (1, 2)
    assert finished["message"].startswith(UNAVAILABLE)


@pytest.mark.anyio
async def test_job_internal_fault_in_a_run_still_ends_with_one_finished(
    settings: Settings,
) -> None:
    sent = await _job_messages(settings, Mode.RUN, [RunStarted(0), RuntimeError("boom")])
    assert [m["type"] for m in sent] == ["started", "error", "finished"]
    finished = sent[-1]
    assert (finished["mode"], finished["status"], finished["explanation"]) == (
        "run",
        "unavailable",
        None,
    )
    assert finished["message"].startswith(UNAVAILABLE)


@pytest.mark.anyio
async def test_job_fault_after_finished_sends_no_second_finished(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Job, solved: bool) -> None:
        raise RuntimeError("progress lost")

    monkeypatch.setattr(Job, "_record_result", broken)
    events = [_ran(0, "a\n"), _ran(1, "b\n"), Finished(Outcome.OK, 0, 9.0, 2)]
    sent = await _job_messages(settings, Mode.CHECK, events)
    assert [m["type"] for m in sent] == ["started", "test", "test", "finished", "error"]
    assert sent[3]["status"] == "passed"


def test_resume_point_follows_the_last_exercise_worked_on() -> None:
    from datetime import UTC, datetime, timedelta

    from runner.store import ExerciseProgress
    from runner.web.api import resume_point

    weeks = [{"exercises": [{"id": "a"}, {"id": "b"}]}, {"exercises": [{"id": "c"}]}]
    t0 = datetime(2026, 11, 30, tzinfo=UTC)
    assert resume_point(weeks, {}) is None
    working = {
        "a": ExerciseProgress("a", attempts=1, solved=True, last_attempt_at=t0),
        "b": ExerciseProgress("b", attempts=2, last_attempt_at=t0 + timedelta(1)),
    }
    assert resume_point(weeks, working) == "b"  # the last one worked on, unsolved
    solved_last = {
        **working,
        "b": ExerciseProgress("b", solved=True, last_attempt_at=t0 + timedelta(1)),
    }
    assert resume_point(weeks, solved_last) == "c"  # the next one not solved
    everything = {i: ExerciseProgress(i, solved=True, last_attempt_at=t0) for i in "abc"}
    assert resume_point(weeks, everything) is None
