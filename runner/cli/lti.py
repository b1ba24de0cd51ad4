"""``decode-runner lti add|list|remove|deployment|rotate-key|keys|invite|export|erase``: LTI 1.3 registrations
and the tool's keys, in the database (``DECODE_DATABASE_URL``) every server node shares.

A change is seen by running servers within 30 s (their caches' lifetime); no restart is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.cli.database import with_store
from runner.lti.keys import KeySchedule, ToolKeys, plan
from runner.lti.launch import new_value
from runner.lti.registration import RegistrationError, ToolUrls, new_registration
from runner.settings import Settings
from runner.store import (
    Account,
    AccountStore,
    DuplicateRegistration,
    LtiStore,
    platform_of,
)
from runner.web.lti import INVITE, INVITE_LIFETIME

_EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lti = subparsers.add_parser("lti", help="LTI 1.3 registrations and the tool's keys")
    actions = lti.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register a platform by hand (Open edX, Canvas …)")
    add.add_argument("--issuer", required=True, help="the platform's issuer (iss)")
    add.add_argument("--client-id", required=True, help="the client id the platform gave")
    add.add_argument(
        "--deployment-id", action="append", required=True, help="a deployment id (repeatable)"
    )
    add.add_argument("--auth-url", required=True, help="the platform's OIDC auth endpoint")
    add.add_argument("--token-url", required=True, help="the platform's OAuth2 token endpoint")
    add.add_argument("--jwks-url", required=True, help="the platform's public keys (JWKS)")
    add.add_argument("--name", default="", help="a display name")
    add.set_defaults(handler=_add)
    actions.add_parser("list", help="list registrations").set_defaults(handler=_list)
    remove = actions.add_parser("remove", help="remove a registration (its learners' data stays)")
    remove.add_argument("id")
    remove.set_defaults(handler=_remove)
    deployment = actions.add_parser("deployment", help="set a registration's deployment ids")
    deployment.add_argument("id")
    deployment.add_argument("deployment_ids", nargs="+")
    deployment.set_defaults(handler=_deployments)
    rotate = actions.add_parser(
        "rotate-key", help="create a new tool key: published now, signing after the publish delay"
    )
    rotate.set_defaults(handler=_rotate)
    keys = actions.add_parser("keys", help="the tool's keys and their state")
    keys.set_defaults(handler=_keys)
    for name, helptext in (
        ("export", "print everything kept about one LMS learner (JSON)"),
        ("erase", "erase one LMS learner and everything that names them"),
    ):
        learner = actions.add_parser(name, help=helptext)
        learner.add_argument("id", help="the registration id")
        learner.add_argument("sub", help="the learner's user id on the platform (sub)")
        learner.set_defaults(handler=_export if name == "export" else _erase)
    invite = actions.add_parser(
        "invite", help="a one-time Dynamic Registration URL for a platform's administrator"
    )
    invite.add_argument("--base-url", help="the runner's public URL (default: DECODE_PUBLIC_URL)")
    invite.set_defaults(handler=_invite)


def _with_store(work: Callable[[LtiStore, Settings], Awaitable[int]]) -> int:
    return with_store(lambda store, settings: work(LtiStore(store), settings))


def _add(args: argparse.Namespace) -> int:
    try:
        row = new_registration(
            args.issuer,
            args.client_id,
            args.deployment_id,
            args.auth_url,
            args.token_url,
            args.jwks_url,
            args.name,
        )
    except RegistrationError as error:
        print(f"decode-runner: --{error.field.replace('_', '-')}: {error.reason}", file=sys.stderr)
        return _EXIT_USAGE

    async def work(store: LtiStore, settings: Settings) -> int:
        try:
            await store.add_registration(row)
        except DuplicateRegistration as error:
            print(f"decode-runner: {error}", file=sys.stderr)
            return 1
        print(f"added LTI registration {row.id} ({row.issuer}, client {row.client_id})")
        return 0

    return _with_store(work)


def _list(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        for r in await store.registrations():
            print(
                f"{r.id}\t{r.name}\tissuer={r.issuer}\tclient_id={r.client_id}\t"
                f"deployments={','.join(r.deployment_ids)}"
            )
        return 0

    return _with_store(work)


def _remove(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        if not await store.remove_registration(args.id):
            print(f"decode-runner: no LTI registration {args.id!r}", file=sys.stderr)
            return 1
        print(f"removed LTI registration {args.id}")
        return 0

    return _with_store(work)


def _deployments(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        if await store.registration(args.id) is None:
            print(f"decode-runner: no LTI registration {args.id!r}", file=sys.stderr)
            return 1
        await store.set_deployments(args.id, tuple(args.deployment_ids))
        print(f"{args.id}: deployments {', '.join(args.deployment_ids)}")
        return 0

    return _with_store(work)


def _schedule(settings: Settings) -> KeySchedule:
    return KeySchedule(settings.lti_key_publish_s, settings.lti_key_keep_s)


def _rotate(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        keys = ToolKeys(store, _schedule(settings))
        await keys.jwks()  # the first key exists before the new one
        key = await keys.rotate()
        delay = timedelta(seconds=settings.lti_key_publish_s)
        print(f"new tool key {key.kid}: published now, signs from {key.created_at + delay:%c} UTC")
        return 0

    return _with_store(work)


def _keys(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        rows = await store.keys()
        signing, published, _ = plan(rows, _now(), _schedule(settings))
        for row in rows:
            state = "signing" if row == signing else "published" if row in published else "expired"
            print(f"{row.kid}\t{row.created_at:%Y-%m-%d %H:%M:%S} UTC\t{state}")
        return 0

    return _with_store(work)


def _learner(
    args: argparse.Namespace, act: Callable[[AccountStore, Account], Awaitable[None]]
) -> int:
    """Run ``act`` on the LMS learner (registration ``args.id``, ``args.sub``)."""

    async def work(store: LtiStore, settings: Settings) -> int:
        accounts = AccountStore(store.store)
        account = await accounts.find(platform_of(args.id), args.sub)
        if account is None:
            print(f"decode-runner: no learner {args.sub!r} in {args.id!r}", file=sys.stderr)
            return 1
        await act(accounts, account)
        return 0

    return _with_store(work)


def _export(args: argparse.Namespace) -> int:
    async def export(accounts: AccountStore, account: Account) -> None:
        print(json.dumps(await accounts.export(account), ensure_ascii=False, indent=2))

    return _learner(args, export)


def _erase(args: argparse.Namespace) -> int:
    async def erase(accounts: AccountStore, account: Account) -> None:
        await accounts.erase(account)
        print(f"erased learner {args.sub} of {args.id}")

    return _learner(args, erase)


def _invite(args: argparse.Namespace) -> int:
    async def work(store: LtiStore, settings: Settings) -> int:
        base = (args.base_url or settings.public_url).rstrip("/")
        if not base:
            print("decode-runner: pass --base-url or set DECODE_PUBLIC_URL", file=sys.stderr)
            return _EXIT_USAGE
        value = new_value()
        data: dict[str, Any] = {}
        await store.put_state(INVITE, "-", value, data, INVITE_LIFETIME)
        hours = int(INVITE_LIFETIME.total_seconds() // 3600)
        print(f"{ToolUrls(base).base}/lti/register?invite={value}")
        print(f"(works once, for {hours} hours)", file=sys.stderr)
        return 0

    return _with_store(work)


def _now() -> datetime:
    return datetime.now(UTC)
