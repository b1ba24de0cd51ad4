"""Progress changes of platform learners: the platform's sequence and the outbox event, written in
the transaction of the progress write itself (so an event exists if and only if the change does)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.tables import outbox, platform_sequences, progress_changes


class EventType:
    PROGRESS_CHANGED = "progress.changed"
    EXERCISE_SOLVED = "exercise.solved"
    LTI_SCORE = "lti.score"  # an AGS score for an LMS's gradebook (runner/lti/ags.py)


@dataclass(frozen=True)
class Account:
    """A platform's learner: ``subject`` is the platform's user id, ``learner`` ours."""

    platform: str
    subject: str
    learner: str


_NEXT_SEQUENCE = (
    update(platform_sequences)
    .where(platform_sequences.c.platform_id == bindparam("platform"))
    .values(last_sequence=platform_sequences.c.last_sequence + 1)
    .returning(platform_sequences.c.last_sequence)
)
_MOVE_CHANGE = (
    update(progress_changes)
    .where(
        (progress_changes.c.platform_id == bindparam("b_platform"))
        & (progress_changes.c.subject == bindparam("b_subject"))
        & (progress_changes.c.exercise_id == bindparam("b_exercise"))
    )
    .values(sequence=bindparam("b_sequence"))
)


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


async def next_sequence(conn: AsyncConnection, platform: str) -> int:
    """The platform's next sequence number. The counter row stays locked until the transaction
    commits, so sequence numbers commit in order and a reader paging by sequence misses none."""
    found = (await conn.execute(_NEXT_SEQUENCE, {"platform": platform})).scalar()
    if found is None:
        await conn.execute(
            platform_sequences.insert().values(platform_id=platform, last_sequence=1)
        )
        return 1
    return int(found)


async def track_change(
    conn: AsyncConnection,
    account: Account,
    public_progress: dict[str, Any],
    solved_now: bool,
    now: datetime,
    events: bool,
) -> None:
    """Give the (account, exercise) row the next sequence and, with ``events``, queue its
    webhook event(s)."""
    sequence = await next_sequence(conn, account.platform)
    params = {
        "b_platform": account.platform,
        "b_subject": account.subject,
        "b_exercise": public_progress["exercise"],
        "b_sequence": sequence,
    }
    if (await conn.execute(_MOVE_CHANGE, params)).rowcount == 0:
        await conn.execute(
            progress_changes.insert().values(
                platform_id=account.platform,
                subject=account.subject,
                exercise_id=public_progress["exercise"],
                sequence=sequence,
            )
        )
    if not events:
        return
    kinds = [EventType.PROGRESS_CHANGED]
    if solved_now:
        kinds.append(EventType.EXERCISE_SOLVED)
    for kind in kinds:
        await enqueue(conn, account, kind, sequence, public_progress, now)


async def enqueue(
    conn: AsyncConnection,
    account: Account,
    kind: str,
    sequence: int,
    public_progress: dict[str, Any],
    now: datetime,
) -> str:
    event_id = new_event_id()
    body = {
        "id": event_id,
        "type": kind,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "platform": account.platform,
        "sequence": sequence,
        "learner": {"sub": account.subject},
        "exercise": public_progress["exercise"],
        "progress": public_progress,
    }
    await insert_event(conn, event_id, account.platform, account.subject, kind, body, now)
    return event_id


async def insert_event(
    conn: AsyncConnection,
    event_id: str,
    platform: str,
    subject: str,
    kind: str,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """One outbox row, due at once (webhook events and LTI scores alike)."""
    await conn.execute(
        outbox.insert().values(
            id=event_id,
            platform_id=platform,
            subject=subject,
            type=kind,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
