"""Who a request acts for: anonymous learner ids (unguessable 128-bit tokens, 32 lowercase hex
characters, the standalone site's) or a platform account's session (``X-Session``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from runner.store import Account

if TYPE_CHECKING:
    from runner.web.runtime import Runtime

LEARNER_HEADER = "x-learner"
_LEARNER = re.compile(r"[0-9a-f]{32}")


class InvalidLearner(ValueError):
    """A learner id that is not 32 lowercase hex characters."""


def new_learner() -> str:
    return secrets.token_hex(16)


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
