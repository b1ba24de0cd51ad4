"""``decode-runner trainer add|list|remove``: the trainers who may log in at /formateur.

``add`` prompts for the password twice (or reads one line from stdin with ``--password-stdin``);
only its argon2id hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable

from runner.cli.database import with_store
from runner.store.trainers import TrainerStore
from runner.trainers.accounts import TrainerError, check_email, hash_password

_EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trainer = subparsers.add_parser("trainer", help="trainers of the /formateur space")
    actions = trainer.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a trainer (prompts for a password)")
    add.add_argument("email")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_add)
    actions.add_parser("list", help="list trainers").set_defaults(handler=_list)
    remove = actions.add_parser("remove", help="remove a trainer (their sessions end)")
    remove.add_argument("email")
    remove.set_defaults(handler=_remove)


def _with_store(work: Callable[[TrainerStore], Awaitable[int]]) -> int:
    return with_store(lambda store, settings: work(TrainerStore(store)))


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        print("decode-runner: the two passwords differ", file=sys.stderr)
        return None
    return first


def _add(args: argparse.Namespace) -> int:
    try:
        email = check_email(args.email)
        password = _password(args)
        if password is None:
            return _EXIT_USAGE
        hashed = hash_password(password)
    except TrainerError as error:
        print(f"decode-runner: {error.field}: {error.reason}", file=sys.stderr)
        return _EXIT_USAGE

    async def work(store: TrainerStore) -> int:
        if not await store.add(email, hashed):
            print(f"decode-runner: {email} is already a trainer", file=sys.stderr)
            return 1
        print(f"added trainer {email}")
        return 0

    return _with_store(work)


def _list(args: argparse.Namespace) -> int:
    async def work(store: TrainerStore) -> int:
        for trainer in await store.all():
            last = (
                f"{trainer.last_login_at:%Y-%m-%d %H:%M} UTC" if trainer.last_login_at else "never"
            )
            print(f"{trainer.email}\tlast login: {last}")
        return 0

    return _with_store(work)


def _remove(args: argparse.Namespace) -> int:
    async def work(store: TrainerStore) -> int:
        if not await store.remove(args.email.strip().lower()):
            print(f"decode-runner: no trainer {args.email!r}", file=sys.stderr)
            return 1
        print(f"removed trainer {args.email}")
        return 0

    return _with_store(work)
