"""The tool's own RSA keys: what signs (client assertions, deep-linking responses) and what
``/lti/jwks`` publishes.

A key's life follows from creation times alone, so every node sharing the database agrees:
- the first key ever signs at once (no platform has cached anything yet);
- a later key (``decode-runner lti rotate-key``) is *published* at once but *signs* only from
  ``created_at + publish_s``, so platforms that cache our JWKS see it before meeting it;
- a key stops signing when the next one starts, and stays published ``keep_s`` longer, until the
  tokens it signed have expired; then it is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from runner.store import KeyRow, LtiStore

ALGORITHM = "RS256"
RSA_BITS = 2048


@dataclass(frozen=True)
class KeySchedule:
    publish_s: float = 3600.0
    keep_s: float = 3600.0
    cache_s: float = 30.0  # how long a node trusts its copy of the key table


def new_key(now: datetime) -> KeyRow:
    """A fresh RSA key; its kid is its RFC 7638 thumbprint."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyRow(kid=_thumbprint(private.public_key()), private_pem=pem, created_at=now)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public_numbers(public: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}


def _thumbprint(public: rsa.RSAPublicKey) -> str:
    canonical = json.dumps(_public_numbers(public), separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwk(key: KeyRow) -> dict[str, str]:
    private = serialization.load_pem_private_key(key.private_pem.encode("ascii"), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return {
        **_public_numbers(private.public_key()),
        "kid": key.kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def _starts(keys: list[KeyRow], schedule: KeySchedule) -> list[datetime]:
    """When each key (oldest first) starts signing."""
    publish = timedelta(seconds=schedule.publish_s)
    return [k.created_at if i == 0 else k.created_at + publish for i, k in enumerate(keys)]


def plan(
    keys: list[KeyRow], now: datetime, schedule: KeySchedule
) -> tuple[KeyRow | None, list[KeyRow], list[KeyRow]]:
    """(the signing key, the published keys, the keys to delete), for ``keys`` oldest first."""
    if not keys:
        return None, [], []
    starts = _starts(keys, schedule)
    active = [i for i, start in enumerate(starts) if start <= now]
    signing = active[-1] if active else 0
    keep = timedelta(seconds=schedule.keep_s)
    published, expired = [], []
    for i, key in enumerate(keys):
        # A key stops signing when the next key that starts after it does.
        later = [s for s in starts[i + 1 :] if s <= now]
        retired_at = min(later) if i < signing and later else None
        if retired_at is not None and retired_at + keep <= now:
            expired.append(key)
        else:
            published.append(key)
    return keys[signing], published, expired


class ToolKeys:
    """The key table, cached for ``schedule.cache_s`` per node; the first use creates the first
    key."""

    def __init__(
        self,
        store: LtiStore,
        schedule: KeySchedule,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.schedule = schedule
        self._clock = clock
        self._keys: list[KeyRow] = []
        self._read_at = float("-inf")
        self._lock = anyio.Lock()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _current(self) -> list[KeyRow]:
        async with self._lock:
            if self._clock() - self._read_at > self.schedule.cache_s or not self._keys:
                keys = await self.store.keys()
                if not keys:
                    await self.store.add_key(await self._generate())
                    keys = await self.store.keys()
                _, _, expired = plan(keys, self._now(), self.schedule)
                await self.store.delete_keys([k.kid for k in expired])
                self._keys = [k for k in keys if k not in expired]
                self._read_at = self._clock()
            return self._keys

    def forget(self) -> None:
        """Read the table again at the next use (after a rotation by this process)."""
        self._read_at = float("-inf")

    async def _generate(self) -> KeyRow:
        """RSA key generation takes tens of milliseconds: not on the event loop."""
        now = self._now()
        return await anyio.to_thread.run_sync(new_key, now)

    async def rotate(self) -> KeyRow:
        key = await self._generate()
        await self.store.add_key(key)
        self.forget()
        return key

    async def jwks(self) -> dict[str, Any]:
        _, published, _ = plan(await self._current(), self._now(), self.schedule)
        return {"keys": [public_jwk(k) for k in published]}

    async def sign(self, claims: dict[str, Any]) -> str:
        signing, _, _ = plan(await self._current(), self._now(), self.schedule)
        assert signing is not None  # _current() creates the first key
        return jwt.encode(
            claims, signing.private_pem, algorithm=ALGORITHM, headers={"kid": signing.kid}
        )
