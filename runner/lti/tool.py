"""The LTI tool's parts, composed once per server (``runner.web.app.build_runtime``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from runner.identity.keys import FetchJson
from runner.lti.keys import ToolKeys
from runner.lti.services import AccessTokens, Exchange, Scores
from runner.store import LtiStore, RegistrationRow, StoreError

logger = logging.getLogger(__name__)

ORIGINS_CACHE_S = 30.0


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class LtiTool:
    store: LtiStore
    keys: ToolKeys
    tokens: AccessTokens
    scores: Scores
    fetch_json: FetchJson  # Dynamic Registration: the platform's OpenID configuration
    exchange: Exchange  # … and its registration endpoint
    clock: Callable[[], float] = time.monotonic
    _origins: tuple[str, ...] = ()
    _origins_at: float = field(default=float("-inf"))

    async def origins(self) -> tuple[str, ...]:
        """The registered platforms' web origins (who may frame the tool's pages), cached."""
        if self.clock() - self._origins_at > ORIGINS_CACHE_S:
            try:
                registrations = await self.store.registrations()
            except StoreError:  # the database is down: the last known origins still hold
                logger.warning("LTI registrations unreadable; framing origins not refreshed")
                return self._origins
            self._origins = tuple(dict.fromkeys(_origins(registrations)))
            self._origins_at = self.clock()
        return self._origins

    def forget_origins(self) -> None:
        self._origins_at = float("-inf")


def _origins(registrations: list[RegistrationRow]) -> list[str]:
    return [origin_of(u) for r in registrations for u in (r.issuer, r.auth_login_url)]
