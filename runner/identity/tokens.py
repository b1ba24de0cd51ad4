"""Signed launch tokens (JWT): what a platform's backend puts in the frame's URL.

Verified with PyJWT (docs/embedding.md says why): algorithms pinned per platform, 60 s of clock
skew, a lifetime of at most 10 minutes, and the claims typed and bounded before anything is used.
The ``jti``'s single use is the caller's job (it needs the database).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import jwt

from runner.identity.platforms import HS256, Platform, Platforms

MAX_TOKEN_CHARS = 4096
CLOCK_SKEW_S = 60
MAX_LIFETIME_S = 600
MAX_CLAIM_CHARS = 255
_REQUIRED = ["iss", "sub", "aud", "exp", "iat", "jti"]


class LaunchFailure(StrEnum):
    """Why a launch is refused (the code the page and the host page receive)."""

    MALFORMED = "token_malformed"
    TOO_LARGE = "token_too_large"
    UNKNOWN_PLATFORM = "platform_unknown"
    INVALID = "token_invalid"
    EXPIRED = "token_expired"
    NOT_YET_VALID = "token_not_yet_valid"
    AUDIENCE = "token_audience"
    LIFETIME = "token_lifetime"
    REPLAYED = "token_replayed"
    WRONG_ORIGIN = "wrong_origin"
    KEYS_UNAVAILABLE = "platform_keys_unavailable"


class LaunchError(Exception):
    """A refused launch token; ``detail`` is for the operator's log, never for the learner."""

    def __init__(self, failure: LaunchFailure, detail: str = "") -> None:
        super().__init__(failure, detail)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class LaunchClaims:
    platform: Platform
    subject: str
    jti: str
    expires_at: datetime
    name: str | None = None
    locale: str | None = None
    return_url: str | None = None


# (platform, kid, alg) -> the key to verify with; raises LaunchError.
KeyFinder = Callable[[Platform, str | None, str], Awaitable[Any]]


def peek_platform(token: str, platforms: Platforms) -> Platform:
    """The platform a token claims to come from (unverified: for routing, never for trust)."""
    if len(token) > MAX_TOKEN_CHARS:
        raise LaunchError(LaunchFailure.TOO_LARGE, f"{len(token)} characters")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise LaunchError(LaunchFailure.MALFORMED, str(exc)) from None
    issuer = claims.get("iss")
    platform = platforms.get(issuer) if isinstance(issuer, str) else None
    if platform is None:
        raise LaunchError(LaunchFailure.UNKNOWN_PLATFORM, f"iss {str(issuer)[:80]!r}")
    return platform


async def verify_launch(
    token: str, platforms: Platforms, find_key: KeyFinder, audience: str, now: float
) -> LaunchClaims:
    """Check every rule of a launch token; ``LaunchError`` names the first one broken."""
    platform = peek_platform(token, platforms)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise LaunchError(LaunchFailure.MALFORMED, str(exc)) from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in platform.algorithms:
        raise LaunchError(LaunchFailure.INVALID, f"algorithm {str(algorithm)[:20]!r} not allowed")
    if kid is not None and not isinstance(kid, str):
        raise LaunchError(LaunchFailure.MALFORMED, "kid is not a string")
    key = await find_key(platform, kid, algorithm)
    claims = _decode(token, key, algorithm, platform, audience, now)
    return _claims(platform, claims, now)


def _decode(
    token: str, key: Any, algorithm: str, platform: Platform, audience: str, now: float
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=platform.id,
            leeway=CLOCK_SKEW_S,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise LaunchError(LaunchFailure.EXPIRED) from None
    except jwt.ImmatureSignatureError:
        raise LaunchError(LaunchFailure.NOT_YET_VALID) from None
    except jwt.InvalidAudienceError:
        raise LaunchError(LaunchFailure.AUDIENCE) from None
    except jwt.PyJWTError as exc:
        raise LaunchError(LaunchFailure.INVALID, f"{type(exc).__name__}: {exc}") from None
    return claims


def _claims(platform: Platform, claims: dict[str, Any], now: float) -> LaunchClaims:
    subject, jti = claims["sub"], claims["jti"]
    for name, value in (("sub", subject), ("jti", jti)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_CHARS:
            raise LaunchError(LaunchFailure.INVALID, f"{name} must be a string of 1-255 chars")
    if "/" in subject:  # the platform API names learners in its paths
        raise LaunchError(LaunchFailure.INVALID, "sub must not contain '/'")
    expires, issued = claims["exp"], claims["iat"]
    if not isinstance(expires, int | float) or not isinstance(issued, int | float):
        raise LaunchError(LaunchFailure.INVALID, "exp and iat must be numbers")
    if expires - issued > MAX_LIFETIME_S or expires > now + MAX_LIFETIME_S + CLOCK_SKEW_S:
        raise LaunchError(LaunchFailure.LIFETIME, f"lifetime {expires - issued:.0f} s > 600 s")
    return LaunchClaims(
        platform=platform,
        subject=subject,
        jti=jti,
        expires_at=datetime.fromtimestamp(expires + CLOCK_SKEW_S, UTC),
        name=_optional_text(claims, "name"),
        locale=_locale(claims.get("locale")),
        return_url=_return_url(platform, claims.get("return_url")),
    )


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CLAIM_CHARS:
        raise LaunchError(LaunchFailure.INVALID, f"{name} must be a string of at most 255 chars")
    return value


def _locale(value: Any) -> str | None:
    """``fr``, ``fr-FR``, ``en_GB``… become ``fr`` or ``en``; other languages are ignored."""
    if not isinstance(value, str):
        return None
    language = value[:2].lower()
    return language if language in ("fr", "en") else None


def _return_url(platform: Platform, value: Any) -> str | None:
    """Only a URL on one of the platform's own origins (no open redirect)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise LaunchError(LaunchFailure.INVALID, "return_url must be a URL")
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    if parts.scheme not in ("http", "https") or origin not in platform.origins:
        raise LaunchError(LaunchFailure.INVALID, "return_url is not on the platform's origins")
    return value


def secret_key(platform: Platform, algorithm: str) -> bytes:
    """The HS256 shared secret (only for an HS256 platform: no HS/RS confusion)."""
    if algorithm != HS256 or not platform.hs256_secret:
        raise LaunchError(LaunchFailure.INVALID, "no shared secret for this algorithm")
    return platform.hs256_secret.encode("utf-8")
