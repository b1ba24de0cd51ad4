"""Every setting of the runner, read once from ``DECODE_*`` environment variables into one typed object."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "DECODE_"
# Settings renamed since: the old variable is still read when the new one is absent.
OLD_NAMES = {"node_id": "DECODE_INSTANCE"}


class SettingsError(ValueError):
    """A setting's environment variable holds a value of the wrong type."""


@dataclass(frozen=True)
class Settings:
    """All runner settings. Each field ``name`` is read from ``DECODE_<NAME>``."""

    # Server
    host: str = "127.0.0.1"
    port: int = 8000
    exercises_dir: Path = Path("exercises")
    database_url: str = "sqlite+aiosqlite:///data/decode-runner.sqlite3"
    # Origins (scheme://host[:port]) allowed to open /ws besides the page's own origin.
    allowed_origins: tuple[str, ...] = ()
    # Host names this server answers to (DNS rebinding): "*" any, "*.example.org" subdomains.
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")
    # Origins allowed to frame /embed/{id} (CSP frame-ancestors) and to receive postMessage events.
    embed_origins: tuple[str, ...] = ()
    max_code_bytes: int = 64 * 1024
    max_frame_bytes: int = 1024 * 1024
    # Capacity: concurrent sandboxes, FIFO queue length, per-learner submissions per minute.
    max_concurrent: int = 4
    queue_size: int = 200
    rate_per_minute: int = 30
    # Per client IP (docs/operations.md: sized for a classroom of 30 behind one NAT).
    ip_rate_per_minute: int = 240  # submissions
    ip_max_connections: int = 120  # open WebSockets
    ip_new_learners_per_minute: int = 60  # anonymous ids issued
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-For is believed from these only
    header_timeout_s: float = 10.0  # a request head (or WebSocket handshake) must arrive by then
    shutdown_grace_s: float = 5.0
    log_level: str = "info"

    # Sandbox engine
    docker_socket: str = "/var/run/docker.sock"
    sandbox_runtime: str = ""  # "" = Docker's default (runc); "runsc" = gVisor
    # This node's id (a cluster runs several): its containers' label, so its reaper removes only its
    # own orphans on a shared engine; its log lines; its /metrics. DECODE_INSTANCE is its old name.
    node_id: str = "default"
    image_prefix: str = "decode-runner"
    pool_size: int = 2  # warm containers per language (0 disables the pool)

    # Default limits per run, and the maxima an exercise may ask for.
    time_limit_s: float = 10.0
    cpus: float = 1.0
    memory_mib: int = 256
    pids: int = 64
    output_bytes: int = 64 * 1024
    tmp_mib: int = 16
    max_time_limit_s: float = 30.0
    max_cpus: float = 1.0
    max_memory_mib: int = 512
    max_pids: int = 128
    max_output_bytes: int = 1024 * 1024
    max_tmp_mib: int = 64

    # Web server (added by the server work)
    web_dir: Path = Path("web/dist")  # the built front end: index.html, exercise.html, assets/

    # Platforms (MOOCs): docs/embedding.md
    platforms: str = ""  # path of platforms.toml ("" = no platform)
    token_audience: str = "decode-runner"  # the `aud` launch tokens must carry
    session_idle_minutes: int = 120  # a learner session ends after this long unused
    webhook_timeout_s: float = 10.0
    webhook_first_retry_s: float = 10.0  # then doubling, up to webhook_max_retry_s
    webhook_max_retry_s: float = 3600.0
    webhook_abandon_hours: float = 72.0  # an event not delivered by then is abandoned
    outbox_keep_days: float = 7.0  # delivered and abandoned events are deleted after this
    # LTI 1.3 (docs/lti.md)
    public_url: str = ""  # the runner's public base URL ("" = from each request's Host)
    lti_key_publish_s: float = 3600.0  # a new tool key is published this long before it signs
    lti_key_keep_s: float = 3600.0  # a replaced key stays published this long
    lti_key_cache_s: float = 30.0  # a node reads the tool's key table again after this long
    # A token naming a kid the cached JWKS lacks refetches it, at most once per this many seconds.
    jwks_refetch_s: float = 30.0
    # The trainer's space (/formateur)
    trainer_session_hours: float = 8.0  # a trainer's session cookie lasts this long
    at_risk_days: int = 7  # "at risk": active before, inactive for this many days or more
    attempt_code_days: float = 90.0  # the attempt log's code is emptied after this long

    def __post_init__(self) -> None:
        if not self.node_id.strip():
            raise SettingsError("DECODE_NODE_ID: a node needs a non-empty id")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win over both."""
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key not in env and OLD_NAMES.get(f.name, "") in env:
                key = OLD_NAMES[f.name]
            if key in env:
                values[f.name] = _parse(key, env[key], hints[f.name])
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(key: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw)
        if kind == tuple[str, ...]:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected {getattr(kind, '__name__', kind)}") from None
