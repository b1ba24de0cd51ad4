"""``decode-runner preview [DIR]``: the course served from a working folder to its author, reloaded
on every save, with an author's panel (spec problems, solution, hidden tests, "Valider").

The author's routes exist only in this server, which binds 127.0.0.1 unless told otherwise: they
show what a learner must never see.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import socket
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from runner.authoring import CourseWatcher
from runner.settings import Settings, SettingsError
from runner.web.app import create_app
from runner.web.preview import Preview

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Event streams end when the server is asked to stop; this bounds the wait for any other.
SHUTDOWN_WAIT_S = 3
EXPOSED = (
    "preview listens on %s: whoever reaches it sees every solution and hidden test "
    "(keep the default, 127.0.0.1, unless you mean it)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="serve a course folder to its author, reloaded on every save",
        description="Serve DIR with hot reload, spec problems in the page, the solution and the "
        "hidden tests beside the learner's page, and a Valider button. Only for the author.",
    )
    parser.add_argument("path", nargs="?", type=Path, default=Path("exercises"))
    parser.add_argument("--host", default=LOOPBACK, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (DECODE_PORT, else 8000)")
    parser.set_defaults(handler=_preview)


def _preview(args: argparse.Namespace) -> int:
    root: Path = args.path
    if not root.is_dir():
        print(f"decode-runner preview: {root}: no such folder", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="decode-preview-") as scratch:
        # Progress made while previewing is the author's trying out: it goes nowhere.
        database_url = f"sqlite+aiosqlite:///{scratch}/preview.sqlite3"
        overrides: dict[str, Any] = {"host": args.host, "database_url": database_url}
        if args.port is not None:
            overrides["port"] = args.port
        try:
            settings = Settings.from_env(exercises_dir=root, **overrides)
        except SettingsError as exc:
            logger.error("%s", exc)
            return 2
        return _serve(settings, Preview(CourseWatcher(root)))


def _serve(settings: Settings, preview: Preview) -> int:
    if not _is_loopback(settings.host):
        logger.warning(EXPOSED, settings.host)
    app = create_app(settings, extra_routes=preview.routes(), background_tasks=[preview.watch])
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,
        log_level=settings.log_level,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_WAIT_S,
    )
    print(f"Aperçu : http://{settings.host}:{settings.port}/preview", flush=True)
    server = PreviewServer(config, preview.watcher)
    server.run()
    return 0 if server.started else 1


class PreviewServer(uvicorn.Server):
    """Ends the event streams as soon as a stop is asked: uvicorn waits for open responses before
    it shuts down, and an event stream never ends by itself."""

    def __init__(self, config: uvicorn.Config, watcher: CourseWatcher) -> None:
        super().__init__(config)
        self.watcher = watcher
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.watcher.release)
        super().handle_exit(sig, frame)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
