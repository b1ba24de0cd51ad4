"""Platforms: each configured MOOC, read from (and written to) a TOML file.

The file (``DECODE_PLATFORMS``) holds secrets; it is written with mode 0600 and its values never
reach logs, ``/metrics`` or ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PLATFORM_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
HS256 = "HS256"
PUBLIC_KEY_ALGORITHMS = ("RS256", "EdDSA")
_KTY_ALGORITHM = {"RSA": "RS256", "OKP": "EdDSA"}
API_KEY_PREFIX = "dkp_"
_FIELDS = {
    "name",
    "origins",
    "hs256_secret",
    "jwks_url",
    "jwks",
    "webhook_url",
    "webhook_secret",
    "api_key_sha256",
}


class PlatformConfigError(ValueError):
    """A platform file problem: file, field (``platforms.<id>.<key>``) and reason."""

    def __init__(self, path: Path | str, field_name: str, reason: str) -> None:
        super().__init__(f"{path}: {field_name}: {reason}")
        self.path = str(path)
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class Platform:
    """One MOOC. Secrets are excluded from ``repr`` so a logged object leaks nothing."""

    id: str
    origins: tuple[str, ...]
    name: str = ""
    hs256_secret: str = field(default="", repr=False)
    jwks_url: str = ""
    jwks: dict[str, Any] | None = field(default=None, repr=False)
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    api_key_sha256: str = field(default="", repr=False)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The only algorithms its tokens may use: HS256 for a shared secret, else the public
        keys' own (RS256 for RSA, EdDSA for OKP). Never ``none``, never both families."""
        if self.hs256_secret:
            return (HS256,)
        if self.jwks is not None:
            kinds = {_KTY_ALGORITHM.get(k.get("kty", "")) for k in self.jwks.get("keys", [])}
            return tuple(sorted(a for a in kinds if a))
        return PUBLIC_KEY_ALGORITHMS

    def api_key_matches(self, key: str) -> bool:
        if not self.api_key_sha256:
            return False
        return hmac.compare_digest(hash_api_key(key), self.api_key_sha256)

    def to_toml_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"name": self.name, "origins": list(self.origins)}
        for key in ("hs256_secret", "jwks_url", "webhook_url", "webhook_secret", "api_key_sha256"):
            if getattr(self, key):
                table[key] = getattr(self, key)
        if self.jwks is not None:
            table["jwks"] = json.dumps(self.jwks, separators=(",", ":"))
        return table


@dataclass(frozen=True)
class Platforms:
    """The configured platforms, by id (which is also their tokens' ``iss``)."""

    by_id: dict[str, Platform] = field(default_factory=dict)

    def get(self, platform_id: str) -> Platform | None:
        return self.by_id.get(platform_id)

    def by_api_key(self, key: str) -> Platform | None:
        """The platform whose API key this is (every hash compared, in constant time each)."""
        found = None
        for platform in self.by_id.values():
            if platform.api_key_matches(key):
                found = platform
        return found

    def origins(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for p in self.by_id.values() for o in p.origins))

    def __len__(self) -> int:
        return len(self.by_id)


def hash_api_key(key: str) -> str:
    """API keys are 256-bit random values: one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def load_platforms(path: Path | str) -> Platforms:
    """Read and check the platforms file; an empty path means no platform."""
    if not str(path):
        return Platforms()
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise PlatformConfigError(path, "-", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlatformConfigError(path, "-", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlatformConfigError(path, "-", f"not valid TOML: {exc}") from None
    tables = document.get("platforms", {})
    if not isinstance(tables, dict):
        raise PlatformConfigError(path, "platforms", "must be a table of platforms")
    unknown = set(document) - {"platforms"}
    if unknown:
        raise PlatformConfigError(path, sorted(unknown)[0], "unknown top-level key")
    return Platforms({pid: _platform(path, pid, table) for pid, table in tables.items()})


def _platform(path: Path, pid: str, table: Any) -> Platform:
    where = f"platforms.{pid}"
    if PLATFORM_ID.fullmatch(pid) is None:
        raise PlatformConfigError(path, where, "id must be 1-64 of a-z 0-9 _ . - (lowercase)")
    if not isinstance(table, dict):
        raise PlatformConfigError(path, where, "must be a table")
    for key in table:
        if key not in _FIELDS:
            raise PlatformConfigError(path, f"{where}.{key}", "unknown key")
    strings = {}
    for key in _FIELDS - {"origins", "jwks"}:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise PlatformConfigError(path, f"{where}.{key}", "must be a string")
        strings[key] = value
    origins = table.get("origins")
    if not isinstance(origins, list) or not origins:
        raise PlatformConfigError(path, f"{where}.origins", "must list at least one origin")
    checked = tuple(_origin(path, f"{where}.origins", o) for o in origins)
    jwks = _jwks(path, f"{where}.jwks", table.get("jwks"))
    sources = [bool(strings["hs256_secret"]), bool(strings["jwks_url"]), jwks is not None]
    if sum(sources) != 1:
        raise PlatformConfigError(
            path, where, "give exactly one key: hs256_secret, jwks_url or jwks"
        )
    if strings["hs256_secret"] and len(strings["hs256_secret"].encode()) < 32:
        raise PlatformConfigError(path, f"{where}.hs256_secret", "at least 32 bytes are needed")
    if strings["jwks_url"]:
        _url(path, f"{where}.jwks_url", strings["jwks_url"])
    if strings["webhook_url"]:
        _url(path, f"{where}.webhook_url", strings["webhook_url"])
        if len(strings["webhook_secret"]) < 16:
            raise PlatformConfigError(
                path, f"{where}.webhook_secret", "a webhook_url needs a secret of 16+ characters"
            )
    digest = strings["api_key_sha256"]
    if digest and re.fullmatch(r"[0-9a-f]{64}", digest) is None:
        raise PlatformConfigError(path, f"{where}.api_key_sha256", "must be 64 hex characters")
    platform = Platform(
        pid, checked, jwks=jwks, **{k: strings[k] for k in _FIELDS - {"origins", "jwks"}}
    )
    if not platform.algorithms:
        raise PlatformConfigError(path, f"{where}.jwks", "no RSA or OKP (Ed25519) key")
    return platform


def _origin(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PlatformConfigError(path, where, "origins must be strings")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise PlatformConfigError(path, where, f"{value!r} is not scheme://host[:port]")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _url(path: Path, where: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlatformConfigError(path, where, f"{value!r} is not an http(s) URL")


def _jwks(path: Path, where: str, value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    try:
        jwks = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise PlatformConfigError(path, where, "not valid JSON") from None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise PlatformConfigError(path, where, 'must be a JWKS: {"keys": [ … ]}')
    if any("d" in k or "k" in k for k in keys):
        raise PlatformConfigError(path, where, "holds private or symmetric key material")
    return {"keys": keys}


def save_platforms(path: Path, platforms: Platforms) -> None:
    """Write the file atomically, readable by its owner only (it holds secrets)."""
    lines = ["# decode-runner platforms (docs/embedding.md). Holds secrets: keep it 0600.", ""]
    for platform in platforms.by_id.values():
        lines.append(f"[platforms.{_toml_string(platform.id)}]")
        for key, value in platform.to_toml_table().items():
            if isinstance(value, list):
                rendered = "[" + ", ".join(_toml_string(v) for v in value) + "]"
            else:
                rendered = _toml_string(value)
            lines.append(f"{key} = {rendered}")
        lines.append("")
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.replace(temporary, path)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
