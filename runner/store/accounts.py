"""Platform accounts: (platform, sub) → one learner, sessions and hand-off codes (hashed), used
launch tokens, the progress feed by sequence, and a learner's export and erasure."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.changes import Account
from runner.store.store import ExerciseProgress, ProgressStore, StoreError, iso, progress_of
from runner.store.tables import (
    accounts,
    attempts,
    learners,
    lti_grades,
    lti_members,
    outbox,
    progress,
    progress_changes,
    sessions,
    submissions,
    used_tokens,
)

TOKEN_BYTES = 32


class SessionKind(StrEnum):
    SESSION = "session"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Change:
    """One row of the progress feed: an account's progress on one exercise, at ``sequence``."""

    sequence: int
    subject: str
    progress: ExerciseProgress


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _account_of(row: Any) -> Account:
    return Account(row["platform_id"], row["subject"], row["learner_id"])


class AccountStore:
    """Accounts and sessions on the progress store's database (it owns the engine)."""

    def __init__(self, store: ProgressStore) -> None:
        self.store = store

    async def account(self, platform: str, subject: str) -> Account:
        """The learner of (platform, subject), created on first use."""

        async def work(conn: AsyncConnection) -> Account:
            found = await _find_account(conn, platform, subject)
            if found is not None:
                return found
            learner, now = secrets.token_hex(16), _now()
            await conn.execute(learners.insert().values(id=learner, created_at=now))
            await conn.execute(
                accounts.insert().values(
                    platform_id=platform, subject=subject, learner_id=learner, created_at=now
                )
            )
            return Account(platform, subject, learner)

        return await self.store.write("account", work)

    async def find(self, platform: str, subject: str) -> Account | None:
        query = select(accounts).where(
            (accounts.c.platform_id == platform) & (accounts.c.subject == subject)
        )
        rows = await self.store.read("find_account", query, {})
        return _account_of(rows[0]) if rows else None

    async def use_token_id(self, platform: str, jti: str, expires_at: datetime) -> bool:
        """Record a launch token's ``jti``; False when it was already used (a replay)."""
        try:
            async with self.store.engine.begin() as conn:
                await conn.execute(
                    used_tokens.insert().values(
                        platform_id=platform, jti=jti, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        except (SQLAlchemyError, OSError) as exc:  # OSError: asyncpg's connect
            raise StoreError("use_token_id", str(exc)) from exc
        return True

    async def open_session(self, account: Account, kind: SessionKind, lifetime: timedelta) -> str:
        """A new opaque token for ``account``; only its hash is stored."""
        token, now = secrets.token_urlsafe(TOKEN_BYTES), _now()
        row = {
            "token_hash": hash_token(token),
            "kind": str(kind),
            "platform_id": account.platform,
            "subject": account.subject,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + lifetime,
        }

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(sessions.insert().values(**row))

        await self.store.write("open_session", work)
        return token

    async def resume(self, token: str, idle: timedelta) -> Account | None:
        """The account of a live session; each use pushes its expiry ``idle`` further."""
        now = _now()
        statement = (
            update(sessions)
            .where(
                (sessions.c.token_hash == hash_token(token))
                & (sessions.c.kind == str(SessionKind.SESSION))
                & (sessions.c.expires_at > now)
            )
            .values(last_seen_at=now, expires_at=now + idle)
            .returning(sessions.c.platform_id, sessions.c.subject)
        )
        return await self._account_from(statement, "resume")

    async def redeem(self, code: str) -> Account | None:
        """The account of a hand-off code, which is deleted: each code works once."""
        statement = (
            delete(sessions)
            .where(
                (sessions.c.token_hash == hash_token(code))
                & (sessions.c.kind == str(SessionKind.HANDOFF))
                & (sessions.c.expires_at > _now())
            )
            .returning(sessions.c.platform_id, sessions.c.subject)
        )
        return await self._account_from(statement, "redeem")

    async def _account_from(self, statement: Any, operation: str) -> Account | None:
        async def work(conn: AsyncConnection) -> Account | None:
            row = (await conn.execute(statement)).mappings().first()
            if row is None:
                return None
            return await _find_account(conn, row["platform_id"], row["subject"])

        return await self.store.write(operation, work)

    async def purge_expired(self) -> int:
        """Delete expired sessions, hand-off codes and used token ids."""
        now = _now()

        async def work(conn: AsyncConnection) -> int:
            gone = (
                await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            ).rowcount
            used = await conn.execute(delete(used_tokens).where(used_tokens.c.expires_at <= now))
            return int(gone or 0) + int(used.rowcount or 0)

        return await self.store.write("purge_expired", work)

    async def changes(self, platform: str, after: int, limit: int) -> list[Change]:
        """The platform's progress rows changed after sequence ``after``, oldest first."""
        query = (
            select(progress_changes.c.sequence, progress_changes.c.subject, progress)
            .join(
                accounts,
                (accounts.c.platform_id == progress_changes.c.platform_id)
                & (accounts.c.subject == progress_changes.c.subject),
            )
            .join(
                progress,
                (progress.c.learner_id == accounts.c.learner_id)
                & (progress.c.exercise_id == progress_changes.c.exercise_id),
            )
            .where(
                (progress_changes.c.platform_id == platform) & (progress_changes.c.sequence > after)
            )
            .order_by(progress_changes.c.sequence)
            .limit(limit)
        )
        rows = await self.store.read("changes", query, {})
        return [Change(row["sequence"], row["subject"], progress_of(row)) for row in rows]

    async def export(self, account: Account) -> dict[str, Any]:
        """Everything kept about one account (GDPR access): account, progress with code, events."""
        created = await self.store.read(
            "export",
            select(accounts.c.created_at).where(accounts.c.learner_id == account.learner),
            {},
        )
        records = await self.store.all_for(account.learner)
        events = await self.store.read(
            "export",
            select(outbox.c.id, outbox.c.type, outbox.c.created_at, outbox.c.delivered_at)
            .where(
                (outbox.c.platform_id == account.platform) & (outbox.c.subject == account.subject)
            )
            .order_by(outbox.c.created_at),
            {},
        )
        log = await self.store.read(
            "export",
            select(attempts)
            .where(attempts.c.learner_id == account.learner)
            .order_by(attempts.c.created_at),
            {},
        )
        return {
            "platform": account.platform,
            "sub": account.subject,
            "created_at": iso(created[0]["created_at"]) if created else None,
            "exercises": [{**p.public(), "last_code": p.last_code} for p in records.values()],
            "attempts": [
                {
                    "exercise": a["exercise_id"],
                    "mode": a["mode"],
                    "at": iso(a["created_at"]),
                    "status": a["status"],
                    "passed": a["passed"],
                    "total": a["total"],
                    "error_kind": a["error_kind"],
                    "code": a["code"],
                }
                for a in log
            ],
            "webhook_events": [
                {
                    "id": e["id"],
                    "type": e["type"],
                    "created_at": iso(e["created_at"]),
                    "delivered_at": iso(e["delivered_at"]),
                }
                for e in events
            ],
        }

    async def erase(self, account: Account) -> None:
        """Delete the learner and everything that names them (GDPR erasure), in one transaction."""

        async def work(conn: AsyncConnection) -> None:
            mine = (outbox.c.platform_id == account.platform) & (
                outbox.c.subject == account.subject
            )
            await conn.execute(delete(outbox).where(mine))
            for table in (sessions, progress_changes, lti_grades, lti_members):
                await conn.execute(
                    delete(table).where(
                        (table.c.platform_id == account.platform)
                        & (table.c.subject == account.subject)
                    )
                )
            await conn.execute(delete(progress).where(progress.c.learner_id == account.learner))
            await conn.execute(delete(attempts).where(attempts.c.learner_id == account.learner))
            await conn.execute(
                delete(submissions).where(submissions.c.learner_id == account.learner)
            )
            await conn.execute(delete(accounts).where(accounts.c.learner_id == account.learner))
            await conn.execute(delete(learners).where(learners.c.id == account.learner))

        await self.store.write("erase", work)


async def _find_account(conn: AsyncConnection, platform: str, subject: str) -> Account | None:
    query = select(accounts).where(
        (accounts.c.platform_id == platform) & (accounts.c.subject == subject)
    )
    row = (await conn.execute(query)).mappings().first()
    return _account_of(row) if row is not None else None
