"""Platform keys: the shared secret, inline JWKS, or a JWKS URL fetched, cached and refetched
when a token names a ``kid`` the cache does not know (at most once per ``REFETCH_S``: a flood of
invented ``kid``s cannot turn into a flood of requests to the platform)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import jwt

from runner.identity.platforms import HS256, Platform
from runner.identity.tokens import LaunchError, LaunchFailure, secret_key

logger = logging.getLogger(__name__)

CACHE_S = 600.0
REFETCH_S = 30.0

# url -> the JWKS document; raises OSError (or any Exception) when it cannot.
FetchJson = Callable[[str], Awaitable[Any]]


@dataclass
class _Cached:
    keys: dict[str | None, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    lock: anyio.Lock = field(default_factory=anyio.Lock)


def parse_jwks(document: Any) -> dict[str | None, jwt.PyJWK]:
    """The usable signature keys of a JWKS, by ``kid`` (None for a key without one)."""
    keys: dict[str | None, jwt.PyJWK] = {}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS")
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type this runner does not accept: never used
        keys[entry.get("kid")] = key
    return keys


class KeyResolver:
    """Finds the key a token must verify with. One per server; the JWKS cache lives here."""

    def __init__(
        self,
        fetch_json: FetchJson,
        clock: Callable[[], float] = time.monotonic,
        refetch_s: float = REFETCH_S,
    ) -> None:
        self._fetch_json = fetch_json
        self._clock = clock
        self._refetch_s = refetch_s
        self._cache: dict[str, _Cached] = {}

    async def find(self, platform: Platform, kid: str | None, algorithm: str) -> Any:
        if algorithm == HS256:
            return secret_key(platform, algorithm)
        if platform.jwks is not None:
            return _pick(parse_jwks(platform.jwks), kid, algorithm)
        return await self.from_url(platform.jwks_url, platform.id, kid, algorithm)

    async def from_url(self, url: str, label: str, kid: str | None, algorithm: str) -> Any:
        """The key ``kid`` of the JWKS at ``url`` (``label`` names its owner in the log)."""
        cached = self._cache.setdefault(url, _Cached())
        async with cached.lock:
            age = self._clock() - cached.fetched_at
            stale = age > CACHE_S or (kid not in cached.keys and age > self._refetch_s)
            if stale:
                await self._refresh(url, label, cached)
        return _pick(cached.keys, kid, algorithm)

    async def _refresh(self, url: str, label: str, cached: _Cached) -> None:
        try:
            document = await self._fetch_json(url)
            cached.keys = parse_jwks(document)
        except Exception as exc:
            logger.warning("JWKS of %s unavailable: %s", label, exc)
            if not cached.keys:
                raise LaunchError(LaunchFailure.KEYS_UNAVAILABLE, str(exc)) from None
        finally:
            cached.fetched_at = self._clock()


def _pick(keys: dict[str | None, jwt.PyJWK], kid: str | None, algorithm: str) -> jwt.PyJWK:
    key = keys.get(kid)
    if key is None and kid is None and len(keys) == 1:
        key = next(iter(keys.values()))
    if key is None:
        raise LaunchError(LaunchFailure.INVALID, f"unknown kid {str(kid)[:40]!r}")
    if key.algorithm_name != algorithm:
        raise LaunchError(LaunchFailure.INVALID, f"key {kid!r} is not an {algorithm} key")
    return key
