"""Learners' progress per exercise, platform accounts and the webhook outbox (SQLAlchemy 2 async,
Alembic migrations run at start-up)."""

from __future__ import annotations

from runner.store.accounts import AccountStore, Change, SessionKind, hash_token
from runner.store.changes import Account, EventType
from runner.store.outbox import OutboxCounts, OutboxEvent, OutboxStore
from runner.store.store import ExerciseProgress, ProgressStore, StoreError, iso

__all__ = [
    "Account",
    "AccountStore",
    "Change",
    "EventType",
    "ExerciseProgress",
    "OutboxCounts",
    "OutboxEvent",
    "OutboxStore",
    "ProgressStore",
    "SessionKind",
    "StoreError",
    "hash_token",
    "iso",
]
