"""Accounts, sessions, used token ids, the progress feed, the outbox, export and erasure, on
SQLite and (marked ``postgres``) PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlalchemy import func, select

from runner.store import (
    AccountStore,
    EventType,
    OutboxStore,
    ProgressStore,
    SessionKind,
)
from runner.store.tables import submissions

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)
NO_LEASE = timedelta(0)  # claimed events stay due: the tests read the queue


def _now() -> datetime:
    return datetime.now(UTC)


async def test_account_is_one_learner_per_platform_and_sub(store: ProgressStore) -> None:
    accounts = AccountStore(store)
    first = await accounts.account("mooc", "alice")
    again = await accounts.account("mooc", "alice")
    elsewhere = await accounts.account("other", "alice")
    assert first == again
    assert len(first.learner) == 32 and first.learner != elsewhere.learner
    assert await accounts.find("mooc", "bob") is None


async def test_account_created_concurrently_is_still_one(store: ProgressStore) -> None:
    accounts = AccountStore(store)
    found = []

    async def create() -> None:
        found.append(await accounts.account("mooc", "carol"))

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(create)
    assert len({a.learner for a in found}) == 1


async def test_token_id_is_used_once_per_platform(store: ProgressStore) -> None:
    accounts = AccountStore(store)
    later = _now() + HOUR
    assert await accounts.use_token_id("mooc", "jti-1", later)
    assert not await accounts.use_token_id("mooc", "jti-1", later)
    assert await accounts.use_token_id("other", "jti-1", later)


async def test_session_resumes_until_idle_and_handoff_works_once(store: ProgressStore) -> None:
    accounts = AccountStore(store)
    account = await accounts.account("mooc", "alice")
    session = await accounts.open_session(account, SessionKind.SESSION, HOUR)
    assert await accounts.resume(session, HOUR) == account
    assert await accounts.resume(session + "x", HOUR) is None
    assert await accounts.redeem(session) is None  # a session is not a hand-off code
    code = await accounts.open_session(account, SessionKind.HANDOFF, HOUR)
    assert await accounts.resume(code, HOUR) is None  # nor a code a session
    assert await accounts.redeem(code) == account
    assert await accounts.redeem(code) is None
    expired = await accounts.open_session(account, SessionKind.SESSION, timedelta(seconds=-1))
    assert await accounts.resume(expired, HOUR) is None
    assert await accounts.purge_expired() >= 1


async def test_progress_change_queues_events_and_moves_in_the_feed(store: ProgressStore) -> None:
    accounts, outbox = AccountStore(store), OutboxStore(store)
    alice = await accounts.account("mooc", "alice")
    bob = await accounts.account("mooc", "bob")
    await store.record_attempt(alice.learner, "ex1", "print(1)", alice)
    await store.record_attempt(bob.learner, "ex1", "print(2)", bob)
    await store.record_solved(alice.learner, "ex1", alice)
    await store.record_solved(alice.learner, "ex1", alice)  # already solved: no change
    await store.save_code(alice.learner, "ex1", "draft")  # code is not progress
    events = [json.loads(e.body) for e in await outbox.claim(_now(), 100, NO_LEASE)]
    # Events of one transaction share a creation time: their order in a batch is not promised.
    kinds = sorted((e["learner"]["sub"], e["type"], e["sequence"]) for e in events)
    assert kinds == sorted(
        [
            ("alice", EventType.PROGRESS_CHANGED, 1),
            ("bob", EventType.PROGRESS_CHANGED, 2),
            ("alice", EventType.PROGRESS_CHANGED, 3),
            ("alice", EventType.EXERCISE_SOLVED, 3),
        ]
    )
    assert len({e["id"] for e in events}) == 4
    solved = next(e for e in events if e["type"] == EventType.EXERCISE_SOLVED)["progress"]
    assert solved["solved"] is True and solved["status"] == "solved" and "last_code" not in solved
    feed = await accounts.changes("mooc", 0, 10)
    assert [(c.sequence, c.subject) for c in feed] == [(2, "bob"), (3, "alice")]
    assert [c.subject for c in await accounts.changes("mooc", 2, 10)] == ["alice"]
    assert await accounts.changes("other", 0, 10) == []


async def test_anonymous_progress_queues_nothing(store: ProgressStore) -> None:
    await store.record_attempt("a" * 32, "ex1", "print(1)")
    await store.record_solved("a" * 32, "ex1")
    assert await OutboxStore(store).claim(_now(), 10, NO_LEASE) == []


async def test_hint_at_its_limit_is_no_change(store: ProgressStore) -> None:
    accounts, outbox = AccountStore(store), OutboxStore(store)
    alice = await accounts.account("mooc", "alice")
    counts = [await store.reveal_hint(alice.learner, "ex1", 1, alice) for _ in range(3)]
    assert counts == [1, 1, 1]
    assert len(await outbox.claim(_now(), 10, NO_LEASE)) == 1


async def test_outbox_retries_delivers_abandons_and_counts(store: ProgressStore) -> None:
    accounts, outbox = AccountStore(store), OutboxStore(store)
    alice = await accounts.account("mooc", "alice")
    for exercise in ("ex1", "ex2", "ex3"):
        await store.record_attempt(alice.learner, exercise, "x", alice)
    first, second, third = await outbox.claim(_now(), 10, NO_LEASE)
    await outbox.delivered(first.id, _now())
    await outbox.failed(second.id, _now() + HOUR, "HTTP 500")
    await outbox.abandoned(third.id, _now(), "HTTP 500")
    assert await outbox.claim(_now(), 10, NO_LEASE) == []
    assert [e.id for e in await outbox.claim(_now() + 2 * HOUR, 10, NO_LEASE)] == [second.id]
    next_due = await outbox.next_due()
    assert next_due is not None and next_due > _now()
    counts = await outbox.counts()
    assert (counts.pending, counts.abandoned) == (1, 1)
    assert await outbox.purge(timedelta(0), _now() + timedelta(seconds=1)) == 2
    assert (await outbox.counts()).pending == 1


async def test_export_then_erase_forgets_the_learner(store: ProgressStore) -> None:
    accounts, outbox = AccountStore(store), OutboxStore(store)
    alice = await accounts.account("mooc", "alice")
    bob = await accounts.account("mooc", "bob")
    await accounts.open_session(alice, SessionKind.SESSION, HOUR)
    await store.record_attempt(alice.learner, "ex1", "print('alice')", alice, submission="s-alice1")
    await store.record_attempt(bob.learner, "ex1", "print('bob')", bob)
    exported = await accounts.export(alice)
    assert exported["sub"] == "alice"
    assert exported["exercises"][0]["last_code"] == "print('alice')"
    assert len(exported["webhook_events"]) == 1
    await accounts.erase(alice)
    assert await accounts.find("mooc", "alice") is None
    assert await store.all_for(alice.learner) == {}
    assert [
        json.loads(e.body)["learner"]["sub"] for e in await outbox.claim(_now(), 10, NO_LEASE)
    ] == ["bob"]
    assert [c.subject for c in await accounts.changes("mooc", 0, 10)] == ["bob"]
    reborn = await accounts.account("mooc", "alice")
    assert reborn.learner != alice.learner
    async with store.engine.connect() as conn:  # the submission ids went with the learner
        left = select(func.count()).select_from(submissions)
        assert (await conn.execute(left)).scalar() == 0


async def test_platform_without_webhook_has_a_feed_but_no_events(store: ProgressStore) -> None:
    accounts = AccountStore(store)
    quiet = await accounts.account("no-hooks", "dora")
    await store.record_attempt(quiet.learner, "ex1", "x", quiet)
    assert await OutboxStore(store).claim(_now(), 10, NO_LEASE) == []
    assert [c.subject for c in await accounts.changes("no-hooks", 0, 10)] == ["dora"]


async def test_two_nodes_never_claim_the_same_event(store: ProgressStore) -> None:
    """Each node's dispatcher claims due events with a lease: two claims at once (two engines,
    as two nodes have) split the events; a claimed event is due again only after its lease."""
    accounts = AccountStore(store)
    alice = await accounts.account("mooc", "alice")
    for n in range(40):
        await store.record_attempt(alice.learner, f"ex{n}", "x", alice)
    other_node = ProgressStore(store.url, webhook_platforms=store.webhook_platforms)
    await other_node.open()
    try:
        mine, theirs = OutboxStore(store), OutboxStore(other_node)
        queued = (await mine.counts()).pending
        lease = timedelta(minutes=2)
        claims: list[list[str]] = []

        async def claim(outbox: OutboxStore) -> None:
            while events := await outbox.claim(_now(), 7, lease):
                claims.append([e.id for e in events])

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(claim, mine)
            tasks.start_soon(claim, theirs)
        ids = [i for batch in claims for i in batch]
        assert queued >= 40 and len(ids) == queued == len(set(ids))  # each once, none twice
        assert len(claims) > 2  # both loops took batches
        assert await mine.claim(_now() + timedelta(minutes=1), 50, lease) == []  # leased
        again = await theirs.claim(_now() + timedelta(minutes=3), 50, lease)  # the lease is over
        assert sorted(e.id for e in again) == sorted(ids)
    finally:
        await other_node.close()
