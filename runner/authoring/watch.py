"""Watching a course folder: poll its JSON files, reload the catalog on a change, and wake
whoever waits for the next version (``decode-runner preview``'s hot reload)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import anyio

from runner.exercises import Catalog, load_catalog

logger = logging.getLogger(__name__)

POLL_S = 0.3
# What tells a file changed: an editor's atomic save replaces the inode, an in-place one moves
# the modification time (and usually the size).
FileState = tuple[int, int, int]


def folder_state(root: Path) -> dict[str, FileState]:
    """Every JSON file below ``root`` (the loader reads no other) with its inode, size, mtime."""
    state: dict[str, FileState] = {}
    for path in root.rglob("*.json"):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between the listing and the stat: the next poll sees it gone
        state[str(path)] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return state


class CourseWatcher:
    """Reloads the course in ``root`` whenever one of its files changes.

    ``version`` counts the catalogs loaded; ``wait_past(v)`` returns once a newer one is, or once
    ``release()`` was called (``released`` then tells)."""

    def __init__(
        self,
        root: Path,
        interval_s: float = POLL_S,
        load: Callable[[Path], Catalog] = load_catalog,
    ) -> None:
        self.root = root
        self.interval_s = interval_s
        self.catalog: Catalog | None = None
        self.version = 0
        self.released = False
        self._load = load
        self._state: dict[str, FileState] | None = None
        self._changed: anyio.Event | None = None  # made by the first waiter, in its loop

    async def run(self, publish: Callable[[Catalog], None]) -> None:
        """Poll for ever, handing each new catalog to ``publish`` before waking the waiters."""
        while True:
            try:
                await self.poll(publish)
            except Exception:
                # The folder renamed away, a permission changed: say so, keep serving, retry.
                logger.exception("cannot reload the course in %s", self.root)
            await anyio.sleep(self.interval_s)

    async def poll(self, publish: Callable[[Catalog], None]) -> bool:
        """One look at the folder; True when it changed (and the catalog was reloaded)."""
        # The state is taken before loading: a save during the load shows at the next poll.
        state = await anyio.to_thread.run_sync(folder_state, self.root)
        if state == self._state:
            return False
        catalog = await anyio.to_thread.run_sync(self._load, self.root)
        self._state = state
        self.catalog = catalog
        publish(catalog)
        self.version += 1
        logger.info(
            "course reloaded (version %d): %d exercise(s), %d problem(s)",
            self.version,
            len(catalog.exercises),
            len(catalog.errors),
        )
        self._wake()
        return True

    def release(self) -> None:
        """Wake every waiter, now and later, for good: the server is shutting down."""
        self.released = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_past(self, version: int) -> int:
        """The current version, once it is greater than ``version`` (or the watcher released)."""
        while self.version <= version and not self.released:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        return self.version
