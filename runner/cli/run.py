"""``decode-runner run FILE``: try the engine by hand; output streams live, the terminal's stdin reaches the program."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import anyio

from runner.sandbox import (
    Finished,
    Language,
    Limits,
    Outcome,
    Output,
    Run,
    RunFinished,
    RunStarted,
    Sandbox,
    Session,
    Submission,
)
from runner.settings import Settings

_EXTENSIONS = {".py": Language.PYTHON, ".js": Language.JAVASCRIPT, ".mjs": Language.JAVASCRIPT}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run one file in a sandbox, interactively")
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--lang", choices=[lang.value for lang in Language], help="default: from the extension"
    )
    parser.add_argument("--time", type=float, help="wall-time limit in seconds")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    try:
        code = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"decode-runner run: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    language = Language(args.lang) if args.lang else _EXTENSIONS.get(args.file.suffix)
    if language is None:
        print(
            f"decode-runner run: unknown language for {args.file.name}; use --lang", file=sys.stderr
        )
        return 2
    settings = Settings.from_env()
    limits = Limits.defaults(settings)
    if args.time:
        limits = dataclasses.replace(limits, time_s=args.time)
    submission = Submission(language, code, (Run(stdin=None),), limits)
    return anyio.run(_run, settings, submission)


async def _run(settings: Settings, submission: Submission) -> int:
    # Its own instance label: the reaper at start-up must not touch a running server's containers.
    sandbox = Sandbox(settings.replace(pool_size=0, node_id=f"cli-{os.getpid()}"))
    await sandbox.start()
    started = anyio.Event()
    try:
        async with sandbox.session(submission) as session, anyio.create_task_group() as tg:
            tg.start_soon(_forward_stdin, session, started)
            final = await _print_events(session, started)
            tg.cancel_scope.cancel()
    finally:
        await sandbox.close()
    return 0 if final.outcome is Outcome.OK else 1


async def _print_events(session: Session, started: anyio.Event) -> Finished:
    async for event in session:
        if isinstance(event, RunStarted):
            started.set()
        elif isinstance(event, Output):
            stream = sys.stderr if event.stream == "stderr" else sys.stdout  # prompts too
            stream.write(event.data)
            stream.flush()
        elif isinstance(event, RunFinished):
            code = "-" if event.exit_code is None else event.exit_code
            print(
                f"\n[{event.outcome.value}] exit code {code}, {event.duration_ms:.0f} ms",
                file=sys.stderr,
            )
        elif isinstance(event, Finished):
            if event.detail:
                print(f"[{event.outcome.value}] {event.detail}", file=sys.stderr)
            return event
    raise RuntimeError("session ended without Finished")


async def _forward_stdin(session: Session, started: anyio.Event) -> None:
    """Copy the terminal's lines to the program once it runs; EOF (Ctrl+D) closes its stdin."""
    await started.wait()
    while True:
        data = await anyio.to_thread.run_sync(_read_line, abandon_on_cancel=True)
        if not data:
            await session.close_stdin()
            return
        await session.send_stdin(data)


def _read_line() -> str:
    return os.read(sys.stdin.fileno(), 65536).decode(errors="replace")
