"""LTI 1.3's queries: registrations, the tool's keys, single-use states, line items and scores,
and who launched what in which LMS context. The rules live in ``runner/lti``; this is storage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from runner.store.accounts import hash_token
from runner.store.changes import Account
from runner.store.store import ExerciseProgress, ProgressStore, StoreError, progress_of
from runner.store.tables import (
    accounts,
    lti_grades,
    lti_keys,
    lti_members,
    lti_registrations,
    lti_states,
    progress,
)


@dataclass(frozen=True)
class RegistrationRow:
    id: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class KeyRow:
    kid: str
    private_pem: str
    created_at: datetime

    def __repr__(self) -> str:  # the PEM is a secret
        return f"KeyRow(kid={self.kid!r}, created_at={self.created_at.isoformat()})"


@dataclass(frozen=True)
class MemberProgress:
    subject: str
    exercise_id: str
    instructor: bool
    last_launch_at: datetime
    progress: ExerciseProgress


def _registration_of(row: Any) -> RegistrationRow:
    return RegistrationRow(
        id=row["id"],
        issuer=row["issuer"],
        client_id=row["client_id"],
        deployment_ids=tuple(json.loads(row["deployment_ids"])),
        auth_login_url=row["auth_login_url"],
        auth_token_url=row["auth_token_url"],
        jwks_url=row["jwks_url"],
        name=row["name"],
        created_at=row["created_at"],
    )


def _now() -> datetime:
    return datetime.now(UTC)


class LtiStore:
    """LTI rows on the progress store's database (it owns the engine)."""

    def __init__(self, store: ProgressStore) -> None:
        self.store = store

    # Registrations -------------------------------------------------------------------------

    async def add_registration(self, row: RegistrationRow) -> None:
        values = {
            **row.__dict__,
            "deployment_ids": json.dumps(list(row.deployment_ids)),
        }

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(lti_registrations.insert().values(**values))

        try:
            await self.store.write("lti_add_registration", work)
        except StoreError as exc:
            if "UNIQUE" in exc.reason.upper() or "duplicate" in exc.reason.lower():
                raise DuplicateRegistration(row.issuer, row.client_id) from None
            raise

    async def set_deployments(self, registration_id: str, deployment_ids: tuple[str, ...]) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                update(lti_registrations)
                .where(lti_registrations.c.id == registration_id)
                .values(deployment_ids=json.dumps(list(deployment_ids)))
            )

        await self.store.write("lti_set_deployments", work)

    async def registrations(self) -> list[RegistrationRow]:
        query = select(lti_registrations).order_by(lti_registrations.c.created_at)
        return [_registration_of(r) for r in await self.store.read("lti_list", query, {})]

    async def registration(self, registration_id: str) -> RegistrationRow | None:
        query = select(lti_registrations).where(lti_registrations.c.id == registration_id)
        rows = await self.store.read("lti_registration", query, {})
        return _registration_of(rows[0]) if rows else None

    async def find_registration(self, issuer: str, client_id: str | None) -> RegistrationRow | None:
        """By issuer and client id; by issuer alone when it has exactly one registration."""
        condition = lti_registrations.c.issuer == issuer
        if client_id is not None:
            condition = condition & (lti_registrations.c.client_id == client_id)
        rows = await self.store.read("lti_find", select(lti_registrations).where(condition), {})
        return _registration_of(rows[0]) if len(rows) == 1 else None

    async def remove_registration(self, registration_id: str) -> bool:
        async def work(conn: AsyncConnection) -> bool:
            gone = await conn.execute(
                delete(lti_registrations).where(lti_registrations.c.id == registration_id)
            )
            return bool(gone.rowcount)

        return await self.store.write("lti_remove_registration", work)

    # The tool's keys -----------------------------------------------------------------------

    async def keys(self) -> list[KeyRow]:
        query = select(lti_keys).order_by(lti_keys.c.created_at)
        rows = await self.store.read("lti_keys", query, {})
        return [KeyRow(r["kid"], r["private_pem"], r["created_at"]) for r in rows]

    async def add_key(self, key: KeyRow) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                lti_keys.insert().values(
                    kid=key.kid, private_pem=key.private_pem, created_at=key.created_at
                )
            )

        await self.store.write("lti_add_key", work)

    async def delete_keys(self, kids: list[str]) -> None:
        if not kids:
            return

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(delete(lti_keys).where(lti_keys.c.kid.in_(kids)))

        await self.store.write("lti_delete_keys", work)

    # Single-use states ---------------------------------------------------------------------

    async def put_state(
        self, kind: str, registration_id: str, value: str, data: dict[str, Any], lifetime: timedelta
    ) -> None:
        row = {
            "value_hash": hash_token(value),
            "kind": kind,
            "registration_id": registration_id,
            "data": json.dumps(data, separators=(",", ":")),
            "expires_at": _now() + lifetime,
        }

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(lti_states.insert().values(**row))

        await self.store.write("lti_put_state", work)

    async def peek_state(self, kind: str, value: str) -> tuple[str, dict[str, Any]] | None:
        """(registration id, data) of a live state, which stays (a page that may be reloaded)."""
        query = select(lti_states.c.registration_id, lti_states.c.data).where(
            (lti_states.c.value_hash == hash_token(value))
            & (lti_states.c.kind == kind)
            & (lti_states.c.expires_at > _now())
        )
        rows = await self.store.read("lti_peek_state", query, {})
        return (rows[0]["registration_id"], json.loads(rows[0]["data"])) if rows else None

    async def take_state(self, kind: str, value: str) -> tuple[str, dict[str, Any]] | None:
        """(registration id, data) of a live state, which is deleted: each works once."""
        statement = (
            delete(lti_states)
            .where(
                (lti_states.c.value_hash == hash_token(value))
                & (lti_states.c.kind == kind)
                & (lti_states.c.expires_at > _now())
            )
            .returning(lti_states.c.registration_id, lti_states.c.data)
        )

        async def work(conn: AsyncConnection) -> tuple[str, dict[str, Any]] | None:
            row = (await conn.execute(statement)).mappings().first()
            return (row["registration_id"], json.loads(row["data"])) if row else None

        return await self.store.write("lti_take_state", work)

    async def purge_expired(self) -> int:
        async def work(conn: AsyncConnection) -> int:
            gone = await conn.execute(delete(lti_states).where(lti_states.c.expires_at <= _now()))
            return int(gone.rowcount or 0)

        return await self.store.write("lti_purge", work)

    # Line items, scores and members --------------------------------------------------------

    async def link(
        self,
        account: Account,
        exercise: str,
        lineitem: str | None,
        score_maximum: int,
        context_id: str | None,
        instructor: bool,
    ) -> None:
        """At each launch: the line item the learner's scores go to, and who launched what."""
        now = _now()

        async def work(conn: AsyncConnection) -> None:
            if lineitem:
                await _upsert(
                    conn,
                    lti_grades,
                    {
                        "platform_id": account.platform,
                        "subject": account.subject,
                        "lineitem": lineitem,
                    },
                    {"exercise_id": exercise, "score_maximum": score_maximum},
                    {"best_given": 0, "last_timestamp": None},
                )
            if context_id:
                await _upsert(
                    conn,
                    lti_members,
                    {
                        "platform_id": account.platform,
                        "context_id": context_id,
                        "subject": account.subject,
                        "exercise_id": exercise,
                    },
                    {"instructor": instructor, "last_launch_at": now},
                    {},
                )

        await self.store.write("lti_link", work)

    async def latest_score(self, platform: str, subject: str, lineitem: str) -> datetime | None:
        """The timestamp of the newest score queued for this line item."""
        query = select(lti_grades.c.last_timestamp).where(
            (lti_grades.c.platform_id == platform)
            & (lti_grades.c.subject == subject)
            & (lti_grades.c.lineitem == lineitem)
        )
        rows = await self.store.read("lti_latest_score", query, {})
        return rows[0]["last_timestamp"] if rows else None

    async def context_progress(self, platform: str, context_id: str) -> list[MemberProgress]:
        """Everyone who launched an exercise of this context, with their progress on it."""
        query = (
            select(
                lti_members.c.subject,
                lti_members.c.exercise_id,
                lti_members.c.instructor,
                lti_members.c.last_launch_at,
                progress.c.learner_id.label("recorded"),
                *(c for c in progress.c if c.name not in ("learner_id", "exercise_id")),
            )
            .join(
                accounts,
                (accounts.c.platform_id == lti_members.c.platform_id)
                & (accounts.c.subject == lti_members.c.subject),
            )
            .outerjoin(
                progress,
                (progress.c.learner_id == accounts.c.learner_id)
                & (progress.c.exercise_id == lti_members.c.exercise_id),
            )
            .where(
                (lti_members.c.platform_id == platform) & (lti_members.c.context_id == context_id)
            )
            .order_by(lti_members.c.subject, lti_members.c.exercise_id)
        )
        rows = await self.store.read("lti_context_progress", query, {})
        return [
            MemberProgress(
                subject=row["subject"],
                exercise_id=row["exercise_id"],
                instructor=bool(row["instructor"]),
                last_launch_at=row["last_launch_at"],
                progress=progress_of(row)
                if row["recorded"] is not None
                else ExerciseProgress(row["exercise_id"]),
            )
            for row in rows
        ]


class DuplicateRegistration(ValueError):
    def __init__(self, issuer: str, client_id: str) -> None:
        super().__init__(f"issuer {issuer!r} already has client id {client_id!r}")


async def _upsert(
    conn: AsyncConnection,
    table: Any,
    key: dict[str, Any],
    values: dict[str, Any],
    initial: dict[str, Any],
) -> None:
    """UPDATE the row with ``key``, or INSERT it (portable: SQLite and PostgreSQL)."""
    condition = and_(*(table.c[name] == value for name, value in key.items()))
    changed = await conn.execute(update(table).where(condition).values(**values))
    if not changed.rowcount:
        # A concurrent insert of the same row makes this fail; the store's write() then runs
        # the whole transaction again, and the UPDATE above finds the row.
        await conn.execute(table.insert().values(**key, **values, **initial))
