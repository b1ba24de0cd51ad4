"""The server's own outgoing HTTP (platform JWKS, webhooks, LTI services): one httpx client, no redirects,
bounded answers. Built with the app, closed in the lifespan."""

from __future__ import annotations

import json
from typing import Any

import httpx

JWKS_TIMEOUT_S = 5.0
MAX_JWKS_BYTES = 256 * 1024
MAX_ANSWER_BYTES = 1024 * 1024  # an NRPS roster of a big course


class Outbound:
    def __init__(self) -> None:
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def fetch_json(self, url: str) -> Any:
        """GET a JSON document (a JWKS); OSError when it cannot."""
        try:
            async with self._client.stream("GET", url, timeout=JWKS_TIMEOUT_S) as response:
                if response.status_code != 200:
                    raise OSError(f"HTTP {response.status_code} from {url}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise OSError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise OSError(f"{type(exc).__name__} fetching {url}") from exc
        try:
            return json.loads(body)
        except ValueError:
            raise OSError(f"{url} did not answer JSON") from None

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST and return the status (the answer's body is not read beyond its headers)."""
        try:
            async with self._client.stream(
                "POST", url, content=body, headers=headers, timeout=timeout
            ) as response:
                return response.status_code
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    async def exchange(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        """One request (LTI services); the answer's body is read up to ``MAX_ANSWER_BYTES``."""
        try:
            async with self._client.stream(
                method, url, content=body, headers=headers, timeout=timeout
            ) as response:
                answer = bytearray()
                async for chunk in response.aiter_bytes():
                    answer += chunk
                    if len(answer) > MAX_ANSWER_BYTES:
                        raise OSError(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
                return response.status_code, bytes(answer)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
