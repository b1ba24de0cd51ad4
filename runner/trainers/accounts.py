"""Trainer passwords (argon2id) and the lock-out after failed logins."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from runner.store.trainers import TrainerRow, TrainerStore

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}")
MIN_PASSWORD = 12
FREE_FAILURES = 5  # then each failure locks the account, twice as long each time
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)

_hasher = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 low-memory)
# Checked when the e-mail is unknown, so that a wrong e-mail costs the same time as a wrong
# password and the answer does not tell which it was.
_DUMMY = _hasher.hash("not a password of anyone")


class TrainerError(ValueError):
    """An invalid e-mail or password given to ``trainer add`` (field and reason)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def check_email(email: str) -> str:
    email = email.strip().lower()
    if EMAIL.fullmatch(email) is None:
        raise TrainerError("email", "not an e-mail address")
    return email


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise TrainerError("password", f"at least {MIN_PASSWORD} characters are needed")
    return _hasher.hash(password)


def lock_for(failures: int) -> timedelta | None:
    """How long the account locks after its ``failures``-th failure in a row."""
    if failures < FREE_FAILURES:
        return None
    lock: timedelta = FIRST_LOCK * 2 ** (failures - FREE_FAILURES)
    return min(MAX_LOCK, lock)


@dataclass(frozen=True)
class LoginResult:
    email: str | None  # the trainer, when the login succeeded
    locked_until: datetime | None = None  # when the account is locked


async def login(store: TrainerStore, email: str, password: str, now: datetime) -> LoginResult:
    """Check a login: unknown e-mail, wrong password and locked account all cost one argon2
    verification; a success resets the failures (and renews an outdated hash)."""
    try:
        trainer: TrainerRow | None = await store.get(check_email(email))
    except TrainerError:
        trainer = None  # not an e-mail: answered like an unknown one
    if trainer is None:
        _verify(_DUMMY, password)
        return LoginResult(None)
    if trainer.locked_until is not None and trainer.locked_until > now:
        _verify(_DUMMY, password)
        return LoginResult(None, trainer.locked_until)
    if not _verify(trainer.password_hash, password):
        lock = lock_for(trainer.failed_logins + 1)
        until = now + lock if lock else None
        await store.failed(trainer.email, until)
        return LoginResult(None, until)
    renewed = _hasher.hash(password) if _hasher.check_needs_rehash(trainer.password_hash) else None
    await store.succeeded(trainer.email, renewed)
    return LoginResult(trainer.email)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
