"""Learners' progress per exercise, platform accounts and the webhook outbox (SQLAlchemy 2 async,
Alembic migrations run at start-up)."""

from __future__ import annotations

from runner.store.accounts import AccountStore, Change, SessionKind, hash_token
from runner.store.attempts import AttemptLog, AttemptStore, FunnelRow
from runner.store.changes import Account, EventType
from runner.store.grades import LTI_PREFIX, is_lti, platform_of
from runner.store.lti import (
    DuplicateRegistration,
    KeyRow,
    LtiStore,
    MemberProgress,
    RegistrationRow,
)
from runner.store.outbox import OutboxCounts, OutboxEvent, OutboxStore
from runner.store.store import ExerciseProgress, ProgressStore, StoreError, iso

__all__ = [
    "LTI_PREFIX",
    "Account",
    "AccountStore",
    "AttemptLog",
    "AttemptStore",
    "Change",
    "DuplicateRegistration",
    "EventType",
    "ExerciseProgress",
    "FunnelRow",
    "KeyRow",
    "LtiStore",
    "MemberProgress",
    "OutboxCounts",
    "OutboxEvent",
    "OutboxStore",
    "ProgressStore",
    "RegistrationRow",
    "SessionKind",
    "StoreError",
    "hash_token",
    "is_lti",
    "iso",
    "platform_of",
]
