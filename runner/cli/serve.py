"""``decode-runner serve``: the web server (uvicorn), with a graceful drain on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import re
import socket
from types import FrameType
from typing import Any

import uvicorn

from runner.cli.protocols import bounded_head_protocol
from runner.identity.platforms import PlatformConfigError
from runner.settings import Settings, SettingsError
from runner.web.app import create_app
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

SHUTDOWN_BOUND_S = 5.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the web server (HTTP API, /ws, pages)",
        description="Serve the course: settings come from DECODE_* variables; options win.",
    )
    parser.add_argument("--host", help="listen address (DECODE_HOST)")
    parser.add_argument("--port", type=int, help="listen port (DECODE_PORT)")
    parser.set_defaults(handler=serve)


class DrainingServer(uvicorn.Server):
    """First SIGTERM/SIGINT: stop accepting, drain submissions, then shut down as uvicorn does.

    uvicorn closes WebSockets (1012) as soon as it shuts down, which would kill running
    submissions; draining first gives them ``shutdown_grace_s`` to finish. A second signal skips
    the drain.
    """

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._loop.call_soon_threadsafe(self._begin_drain, sig)

    def _begin_drain(self, sig: int) -> None:
        logger.warning("signal %d: draining before shutdown", sig)
        assert self._loop is not None
        self._drain_task = self._loop.create_task(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        for server in self.servers:
            server.close()  # stop accepting; open connections carry on
        try:
            await self.runtime.drain()
        except Exception:
            logger.exception("drain failed")
        finally:
            super().handle_exit(sig, None)


_CREDENTIAL = re.compile(r"\b(token|session|handoff|learner)=[^&\s\"']+")


class RedactCredentials(logging.Filter):
    """Access logs show paths with their query: launch tokens, sessions and hand-off codes ride
    there (a WebSocket cannot carry a header), so their values are masked before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _CREDENTIAL.sub(r"\1=…", arg) if isinstance(arg, str) else arg
                for arg in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = _CREDENTIAL.sub(r"\1=…", record.msg)
        return True


def redact_credentials() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactCredentials())


def log_config(node: str) -> dict[str, Any]:
    """uvicorn's logging, each line starting with ``[node <id>]``: a cluster's gathered logs say
    which node wrote each line."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["fmt"] = formatter["fmt"].replace(
            "%(levelprefix)s ", f"%(levelprefix)s {_tag(node)} ", 1
        )
    return config


def tag_root_logger(node: str) -> None:
    """The runner's own loggers (through the root handler) start their lines the same way."""
    line = f"%(levelname)s {_tag(node)} %(name)s: %(message)s"
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter(line))


def _tag(node: str) -> str:
    return "[node " + node.replace("%", "%%") + "]"


def serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        logger.error("%s", exc)
        return 2
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(settings.log_level.upper())
    try:
        app = create_app(settings)
    except PlatformConfigError as exc:
        logger.error("DECODE_PLATFORMS: %s", exc)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,
        log_level=settings.log_level,
        lifespan="on",
        log_config=log_config(settings.node_id),
        http=bounded_head_protocol(settings.header_timeout_s),
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        server_header=False,
        # After the drain, connections whose clients do not read cannot stall the exit.
        timeout_graceful_shutdown=int(settings.shutdown_grace_s + SHUTDOWN_BOUND_S),
    )
    redact_credentials()  # after uvicorn's Config has configured its loggers
    tag_root_logger(settings.node_id)
    server = DrainingServer(config, app.state.runtime)
    server.run()
    return 0 if server.started else 1
