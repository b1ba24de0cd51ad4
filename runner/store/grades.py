"""LTI scores queued in a check's progress transaction (the outbox delivers them: runner/lti/ags.py).

Kept apart from ``runner/store/lti.py`` because ``ProgressStore`` itself calls it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.changes import Account, EventType, insert_event, new_event_id
from runner.store.tables import lti_grades

LTI_PREFIX = "lti:"
# Each score is newer than the last one for its line item, by a whole second: Moodle compares
# timestamps to the second and answers 409, Open edX answers 400, to one that is not newer.
TIMESTAMP_STEP = timedelta(seconds=1)


def platform_of(registration_id: str) -> str:
    """The accounts' platform id of an LTI registration's learners."""
    return LTI_PREFIX + registration_id


def is_lti(account: Account | None) -> bool:
    return account is not None and account.platform.startswith(LTI_PREFIX)


async def record_grade(
    conn: AsyncConnection,
    account: Account,
    exercise: str,
    passed: int,
    total: int,
    now: datetime,
) -> int:
    """Queue a score for each line item this learner's ``exercise`` reports to: the best number
    of passed tests so far (a later failure never lowers a grade), with a timestamp newer than
    the last one sent. Runs in the check's progress transaction; returns the events queued."""
    rows = (
        (
            await conn.execute(
                select(lti_grades).where(
                    (lti_grades.c.platform_id == account.platform)
                    & (lti_grades.c.subject == account.subject)
                    & (lti_grades.c.exercise_id == exercise)
                )
            )
        )
        .mappings()
        .all()
    )
    for row in rows:
        best = max(int(row["best_given"]), passed)
        last = row["last_timestamp"]
        moment = now.replace(microsecond=0)
        stamp = moment if last is None or moment > last else last + TIMESTAMP_STEP
        await conn.execute(
            update(lti_grades)
            .where(
                (lti_grades.c.platform_id == account.platform)
                & (lti_grades.c.subject == account.subject)
                & (lti_grades.c.lineitem == row["lineitem"])
            )
            .values(best_given=best, score_maximum=total, last_timestamp=stamp)
        )
        body = {
            "registration": account.platform.removeprefix(LTI_PREFIX),
            "lineitem": row["lineitem"],
            "user": account.subject,
            "exercise": exercise,
            "given": best,
            "maximum": total,
            "solved": total > 0 and best >= total,
            "timestamp": stamp.isoformat().replace("+00:00", "Z"),
        }
        await insert_event(
            conn, new_event_id(), account.platform, account.subject, EventType.LTI_SCORE, body, now
        )
    return len(rows)
