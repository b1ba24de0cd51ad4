"""The sub-commands that act on the database (``lti``, ``trainer``): open the store of
``DECODE_DATABASE_URL`` (migrating it), run, close; a database error is one line on stderr."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import anyio

from runner.settings import Settings
from runner.store import ProgressStore, StoreError


def with_store(work: Callable[[ProgressStore, Settings], Awaitable[int]]) -> int:
    settings = Settings.from_env()

    async def main() -> int:
        store = ProgressStore(settings.database_url)
        try:
            await store.open()
            return await work(store, settings)
        finally:
            await store.close()

    try:
        return anyio.run(main)
    except StoreError as exc:
        print(f"decode-runner: database {settings.database_url!r}: {exc}", file=sys.stderr)
        return 1
