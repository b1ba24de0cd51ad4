"""LTI Advantage services the tool calls: OAuth 2 access tokens (client credentials with a signed
JWT assertion, cached until they expire), AGS scores (delivered from the persistent outbox), and
NRPS rosters. Network access is an injected ``Exchange``."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from runner.identity.webhooks import DELIVERED, Outcome, Verdict
from runner.lti import claims as c
from runner.lti.keys import ToolKeys
from runner.store import LtiStore, OutboxEvent, RegistrationRow

logger = logging.getLogger(__name__)

# (method, url, headers, body or None, timeout) -> (status, body); OSError/TimeoutError: no answer.
Exchange = Callable[[str, str, dict[str, str], bytes | None, float], Awaitable[tuple[int, bytes]]]

ASSERTION_LIFETIME_S = 300
TOKEN_MARGIN_S = 30
TIMEOUT_S = 10.0
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
# Answers that will never change by retrying the same request (besides 401, handled apart).
_FINAL = {400, 403, 404, 405, 410, 413, 415, 422}


class ServiceError(Exception):
    """A platform service refused or did not answer; ``retry``: trying later may work."""

    def __init__(self, detail: str, retry: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry = retry


@dataclass
class _Token:
    value: str
    expires_at: float


class AccessTokens:
    """One cached token per (registration, scopes), refreshed before it expires."""

    def __init__(
        self, keys: ToolKeys, exchange: Exchange, clock: Callable[[], float] = time.time
    ) -> None:
        self.keys = keys
        self.exchange = exchange
        self.clock = clock
        self._tokens: dict[tuple[str, tuple[str, ...]], _Token] = {}
        self.requests = 0  # tokens asked for (for /metrics and the tests)

    def forget(self, registration: RegistrationRow, scopes: tuple[str, ...]) -> None:
        self._tokens.pop((registration.id, scopes), None)

    async def token(self, registration: RegistrationRow, scopes: tuple[str, ...]) -> str:
        cached = self._tokens.get((registration.id, scopes))
        if cached is not None and cached.expires_at > self.clock() + TOKEN_MARGIN_S:
            return cached.value
        now = int(self.clock())
        assertion = await self.keys.sign(
            {
                "iss": registration.client_id,
                "sub": registration.client_id,
                "aud": registration.auth_token_url,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_S,
                "jti": uuid.uuid4().hex,
            }
        )
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": " ".join(scopes),
            }
        ).encode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self.requests += 1
        status, body = await self.exchange(
            "POST", registration.auth_token_url, headers, form, TIMEOUT_S
        )
        if status != 200:
            raise ServiceError(f"token endpoint answered HTTP {status}", retry=status not in _FINAL)
        try:
            answer = json.loads(body)
            value, lifetime = str(answer["access_token"]), float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise ServiceError("token endpoint answered no access_token", retry=True) from None
        self._tokens[(registration.id, scopes)] = _Token(value, self.clock() + lifetime)
        return value

    async def call(
        self,
        registration: RegistrationRow,
        scopes: tuple[str, ...],
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> tuple[int, bytes]:
        """A service request with a bearer token; a 401 gets one fresh token and one retry."""
        for attempt in (1, 2):
            token = await self.token(registration, scopes)
            status, answer = await self.exchange(
                method, url, {**headers, "Authorization": f"Bearer {token}"}, body, TIMEOUT_S
            )
            if status != 401 or attempt == 2:
                return status, answer
            self.forget(registration, scopes)
        raise AssertionError("unreachable")


def score_document(body: dict[str, Any]) -> dict[str, Any]:
    """The AGS score for an outbox event's body. Always ``FullyGraded`` (Canvas ignores a
    ``scoreGiven`` otherwise); ``Completed`` once solved, else ``Submitted``; the best score so
    far (never lowered); a timestamp newer than the previous one for the line item (Moodle
    answers 409 otherwise). Open edX ignores a ``scoreGiven`` of 0: the learner then simply has
    no grade there yet, which reads the same."""
    return {
        "userId": body["user"],
        "scoreGiven": body["given"],
        "scoreMaximum": body["maximum"],
        "activityProgress": "Completed" if body["solved"] else "Submitted",
        "gradingProgress": "FullyGraded",
        "timestamp": body["timestamp"],
    }


def scores_url(lineitem: str) -> str:
    """``<line item>/scores``, keeping the line item URL's query (Moodle puts ids there)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class Scores:
    """Delivers ``lti.score`` outbox events to the line item's score service."""

    def __init__(self, lti: LtiStore, tokens: AccessTokens) -> None:
        self.lti = lti
        self.tokens = tokens
        self.sent = 0
        self.superseded = 0

    async def deliver(self, event: OutboxEvent) -> Outcome:
        body = json.loads(event.body)
        latest = await self.lti.latest_score(event.platform, body["user"], body["lineitem"])
        if latest is not None and latest > datetime.fromisoformat(body["timestamp"]):
            # A newer score (always the best so far too) is queued: sending this one after it
            # would be refused (Moodle 409, Open edX 400) or, worse, taken.
            self.superseded += 1
            return DELIVERED
        registration = await self.lti.registration(body["registration"])
        if registration is None:
            return Outcome(Verdict.ABANDON, "the LTI registration was removed")
        document = json.dumps(score_document(body)).encode("utf-8")
        try:
            status, _ = await self.tokens.call(
                registration,
                (c.SCOPE_SCORE,),
                "POST",
                scores_url(body["lineitem"]),
                {"Content-Type": SCORE_TYPE},
                document,
            )
        except ServiceError as error:
            verdict = Verdict.RETRY if error.retry else Verdict.ABANDON
            return Outcome(verdict, error.detail)
        if 200 <= status < 300:
            self.sent += 1
            return DELIVERED
        if status == 409:  # a newer score for this line item got there first (Moodle)
            logger.info("LTI score %s superseded by a newer one (HTTP 409)", event.id)
            return DELIVERED
        verdict = Verdict.ABANDON if status in _FINAL else Verdict.RETRY
        return Outcome(verdict, f"score service answered HTTP {status}")


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str | None
    roles: tuple[str, ...]
    active: bool


async def roster(
    tokens: AccessTokens, registration: RegistrationRow, url: str, limit: int = 1000
) -> list[Member]:
    """The context's members (NRPS 2.0), first page only (``limit`` members)."""
    separator = "&" if urlsplit(url).query else "?"
    status, body = await tokens.call(
        registration,
        (c.SCOPE_NRPS,),
        "GET",
        f"{url}{separator}limit={limit}",
        {"Accept": MEMBERSHIP_TYPE},
    )
    if status != 200:
        raise ServiceError(f"memberships answered HTTP {status}", retry=True)
    try:
        members = json.loads(body)["members"]
        return [
            Member(
                user_id=str(m["user_id"]),
                name=str(m["name"])[:255] if m.get("name") else None,
                roles=tuple(str(r) for r in m.get("roles", [])),
                active=m.get("status", "Active") == "Active",
            )
            for m in members
            if isinstance(m, dict) and "user_id" in m
        ]
    except (ValueError, KeyError, TypeError):
        raise ServiceError("memberships answered no members list", retry=True) from None
