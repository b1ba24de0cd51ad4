"""Trainers and their sessions (the rules, argon2 and the lock-out, are in ``runner/trainers``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.accounts import hash_token
from runner.store.store import ProgressStore
from runner.store.tables import trainer_sessions, trainers


@dataclass(frozen=True)
class TrainerRow:
    email: str
    password_hash: str
    created_at: datetime
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None

    def __repr__(self) -> str:  # the hash stays out of logs
        return f"TrainerRow(email={self.email!r})"


@dataclass(frozen=True)
class TrainerSession:
    email: str
    csrf: str


def _now() -> datetime:
    return datetime.now(UTC)


class TrainerStore:
    def __init__(self, store: ProgressStore) -> None:
        self.store = store

    async def add(self, email: str, password_hash: str) -> bool:
        """False when the e-mail is already a trainer's."""
        if await self.get(email) is not None:
            return False

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                trainers.insert().values(
                    email=email, password_hash=password_hash, created_at=_now(), failed_logins=0
                )
            )

        await self.store.write("trainer_add", work)
        return True

    async def remove(self, email: str) -> bool:
        async def work(conn: AsyncConnection) -> bool:
            return bool(
                (await conn.execute(delete(trainers).where(trainers.c.email == email))).rowcount
            )

        return await self.store.write("trainer_remove", work)

    async def all(self) -> list[TrainerRow]:
        rows = await self.store.read("trainers", select(trainers).order_by(trainers.c.email), {})
        return [TrainerRow(**r) for r in rows]

    async def get(self, email: str) -> TrainerRow | None:
        rows = await self.store.read(
            "trainer", select(trainers).where(trainers.c.email == email), {}
        )
        return TrainerRow(**rows[0]) if rows else None

    async def failed(self, email: str, locked_until: datetime | None) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                update(trainers)
                .where(trainers.c.email == email)
                .values(failed_logins=trainers.c.failed_logins + 1, locked_until=locked_until)
            )

        await self.store.write("trainer_failed", work)

    async def succeeded(self, email: str, password_hash: str | None = None) -> None:
        values: dict[str, object] = {
            "failed_logins": 0,
            "locked_until": None,
            "last_login_at": _now(),
        }
        if password_hash is not None:  # argon2 parameters moved on: the hash is renewed
            values["password_hash"] = password_hash

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(update(trainers).where(trainers.c.email == email).values(**values))

        await self.store.write("trainer_succeeded", work)

    async def open_session(self, email: str, lifetime: timedelta) -> tuple[str, str]:
        """(the cookie's token, the session's CSRF token); only the token's hash is stored."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                trainer_sessions.insert().values(
                    token_hash=hash_token(token),
                    email=email,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )

        await self.store.write("trainer_session", work)
        return token, csrf

    async def session(self, token: str) -> TrainerSession | None:
        query = select(trainer_sessions.c.email, trainer_sessions.c.csrf).where(
            (trainer_sessions.c.token_hash == hash_token(token))
            & (trainer_sessions.c.expires_at > _now())
        )
        rows = await self.store.read("trainer_session", query, {})
        return TrainerSession(rows[0]["email"], rows[0]["csrf"]) if rows else None

    async def close_session(self, token: str) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(trainer_sessions).where(trainer_sessions.c.token_hash == hash_token(token))
            )

        await self.store.write("trainer_logout", work)

    async def purge_expired(self) -> int:
        async def work(conn: AsyncConnection) -> int:
            gone = await conn.execute(
                delete(trainer_sessions).where(trainer_sessions.c.expires_at <= _now())
            )
            return int(gone.rowcount or 0)

        return await self.store.write("trainer_purge", work)
