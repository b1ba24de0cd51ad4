"""LTI storage on SQLite and (marked ``postgres``) PostgreSQL: registrations, single-use states,
the tool's keys, scores queued in the check's transaction (best score, increasing timestamps),
the instructor's context view, and erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import anyio
import jwt
import pytest

from runner.lti.keys import KeySchedule, ToolKeys
from runner.lti.registration import new_registration
from runner.store import (
    AccountStore,
    DuplicateRegistration,
    EventType,
    LtiStore,
    OutboxStore,
    ProgressStore,
    RegistrationRow,
    platform_of,
)

NO_LEASE = timedelta(0)  # claimed events stay due: the tests read the queue

pytestmark = pytest.mark.anyio


def _registration() -> RegistrationRow:
    return new_registration(
        "https://lms.example",
        "client-1",
        ["dep-1"],
        "https://lms.example/auth",
        "https://lms.example/token",
        "https://lms.example/jwks",
    )


async def test_registrations_are_unique_per_issuer_and_client(store: ProgressStore) -> None:
    lti = LtiStore(store)
    row = _registration()
    await lti.add_registration(row)
    with pytest.raises(DuplicateRegistration):
        await lti.add_registration(_registration())
    found = await lti.find_registration("https://lms.example", "client-1")
    assert found is not None and found.deployment_ids == ("dep-1",)
    assert await lti.find_registration("https://lms.example", None) == found  # the only one
    assert await lti.find_registration("https://lms.example", "client-2") is None
    await lti.set_deployments(found.id, ("dep-1", "dep-2"))
    assert (await lti.registration(found.id)).deployment_ids == ("dep-1", "dep-2")  # type: ignore[union-attr]
    assert await lti.remove_registration(found.id)
    assert await lti.registration(found.id) is None


async def test_a_state_works_once_and_not_after_it_expires(store: ProgressStore) -> None:
    lti = LtiStore(store)
    await lti.put_state("state", "reg", "value-1", {"nonce": "n"}, timedelta(minutes=5))
    await lti.put_state("state", "reg", "value-2", {}, timedelta(seconds=-1))
    assert await lti.peek_state("state", "value-1") == ("reg", {"nonce": "n"})
    assert await lti.take_state("ticket", "value-1") is None  # another kind
    results = []

    async def take() -> None:
        results.append(await lti.take_state("state", "value-1"))

    async with anyio.create_task_group() as tasks:  # two launches racing for one state
        for _ in range(2):
            tasks.start_soon(take)
    assert sorted(results, key=str) == [("reg", {"nonce": "n"}), None]
    assert await lti.take_state("state", "value-2") is None
    assert await lti.purge_expired() == 1


async def test_keys_are_created_once_and_rotated(store: ProgressStore) -> None:
    lti = LtiStore(store)
    keys = ToolKeys(lti, KeySchedule(publish_s=3600, keep_s=3600))
    first = (await keys.jwks())["keys"]
    assert len(first) == 1
    again = ToolKeys(lti, KeySchedule(publish_s=3600, keep_s=3600))  # another node
    assert (await again.jwks())["keys"] == first
    await keys.rotate()
    assert len((await keys.jwks())["keys"]) == 2
    token = await keys.sign({"iss": "x"})
    assert jwt.get_unverified_header(token)["kid"] == first[0]["kid"]  # not yet the new one


async def test_scores_follow_checks_never_drop_and_always_move_forward(
    store: ProgressStore,
) -> None:
    accounts, lti, outbox = AccountStore(store), LtiStore(store), OutboxStore(store)
    account = await accounts.account(platform_of("reg"), "user-1")
    lineitem = "https://lms.example/lineitems/7"
    await lti.link(account, "bonjour", lineitem, 3, "course-1", instructor=False)
    await lti.link(account, "bonjour", lineitem, 3, "course-1", instructor=False)  # relaunch
    for passed in (2, 1, 3, 0):
        await store.record_result(account.learner, "bonjour", passed, 3, account)
    events = [e for e in await outbox.claim(datetime.now(UTC) + timedelta(seconds=1), 50, NO_LEASE)]
    scores = [json.loads(e.body) for e in events if e.type == EventType.LTI_SCORE]
    assert [s["given"] for s in scores] == [2, 2, 3, 3]  # the best so far, never lower
    assert [s["solved"] for s in scores] == [False, False, True, True]
    stamps = [s["timestamp"] for s in scores]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # strictly increasing
    assert (await store.get(account.learner, "bonjour")).solved
    # A learner of an exercise with no line item (or not an LMS learner) queues no score.
    other = await accounts.account("mooc", "bob")
    await store.record_result(other.learner, "bonjour", 3, 3, other)
    later = await outbox.claim(datetime.now(UTC) + timedelta(seconds=1), 50, NO_LEASE)
    assert sum(e.type == EventType.LTI_SCORE for e in later) == 4


async def test_context_view_and_erasure(store: ProgressStore) -> None:
    accounts, lti = AccountStore(store), LtiStore(store)
    learner = await accounts.account(platform_of("reg"), "user-1")
    teacher = await accounts.account(platform_of("reg"), "teacher")
    await lti.link(learner, "bonjour", "https://lms/li/1", 3, "course-1", instructor=False)
    await lti.link(learner, "double", None, 2, "course-1", instructor=False)
    await lti.link(teacher, "bonjour", None, 3, "course-1", instructor=True)
    await store.record_attempt(learner.learner, "bonjour", "print(1)", learner)
    rows = await lti.context_progress(platform_of("reg"), "course-1")
    seen = {(r.subject, r.exercise_id): r for r in rows}
    assert seen[("user-1", "bonjour")].progress.checks == 1
    assert seen[("user-1", "double")].progress.status == "todo"
    assert seen[("teacher", "bonjour")].instructor
    await accounts.erase(learner)
    rows = await lti.context_progress(platform_of("reg"), "course-1")
    assert {r.subject for r in rows} == {"teacher"}
