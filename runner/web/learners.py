"""Who a request acts for: anonymous learner ids (unguessable 128-bit tokens, 32 lowercase hex
characters, the standalone site's) or a platform account's session (``X-Session``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from runner.store import Account, StoreError

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from runner.web.runtime import Runtime

LEARNER_HEADER = "x-learner"
_LEARNER = re.compile(r"[0-9a-f]{32}")


class InvalidLearner(ValueError):
    """A learner id that is not 32 lowercase hex characters."""


def new_learner() -> str:
    """A random id of the old, unsigned form (tests; ids issued before signing look so)."""
    return secrets.token_hex(16)


class LearnerIds:
    """Anonymous ids the server issues: 16 random hex characters, then the first 16 of their
    HMAC-SHA256 under a key the servers share. An id can be checked without a database read, so
    a client cannot mint ids (nor rows) of its own; the form stays 32 lowercase hex characters,
    as the pages already keep."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self) -> str:
        nonce = secrets.token_hex(8)
        return nonce + self._mac(nonce)

    def signed(self, learner: str) -> bool:
        return hmac.compare_digest(self._mac(learner[:16]), learner[16:])

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode("ascii"), hashlib.sha256).hexdigest()[:16]


async def anonymous_learner(runtime: Runtime, value: str | None) -> str | None:
    """A well-formed id this server issued (signed, or from before signing and on record); None
    when absent; ``InvalidLearner`` otherwise."""
    learner = parse_learner(value)
    if learner is None or runtime.learner_ids.signed(learner):
        return learner
    try:
        if await runtime.store.learner_exists(learner):
            return learner
    except StoreError:
        logger.warning("cannot check an unsigned learner id: the database is down")
        return learner  # nothing can be written meanwhile anyway
    raise InvalidLearner(learner)


def parse_learner(value: str | None) -> str | None:
    """``value`` as a learner id; None when absent; ``InvalidLearner`` when malformed."""
    if value is None or value == "":
        return None
    if _LEARNER.fullmatch(value) is None:
        raise InvalidLearner(value[:40])
    return value


SESSION_HEADER = "x-session"
SESSION_PARAM = "session"
_SESSION = re.compile(r"[A-Za-z0-9_-]{20,100}")


class SessionExpired(Exception):
    """An unknown, malformed or expired session: the page must be launched again."""


@dataclass(frozen=True)
class Learner:
    """Who a request or a socket acts for: an anonymous id, or a platform's account."""

    id: str
    account: Account | None = None


async def resume_session(runtime: Runtime, token: str) -> Learner:
    """The account behind a session token; ``SessionExpired`` when there is none."""
    if _SESSION.fullmatch(token) is None:
        raise SessionExpired
    idle = timedelta(minutes=runtime.settings.session_idle_minutes)
    account = await runtime.accounts.resume(token, idle)
    if account is None:
        raise SessionExpired
    return Learner(account.learner, account)
