"""``decode-runner platform add|list|remove``: the platforms file (``DECODE_PLATFORMS``).

Secrets are generated here and printed once; the file keeps the API key's hash only. The server
reads the file at start-up: restart it after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.identity.platforms import (
    PLATFORM_ID,
    Platform,
    PlatformConfigError,
    Platforms,
    hash_api_key,
    load_platforms,
    new_api_key,
    new_secret,
    save_platforms,
)

_EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    platform = subparsers.add_parser("platform", help="configure the MOOC platforms")
    platform.add_argument("--file", type=Path, help="platforms file (default: DECODE_PLATFORMS)")
    actions = platform.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a platform; prints its new secrets once")
    add.add_argument("id", help="the platform's id: its tokens' iss")
    add.add_argument("--name", default="", help="a display name")
    add.add_argument("--origin", action="append", required=True, help="origin that frames us")
    keys = add.add_mutually_exclusive_group(required=True)
    keys.add_argument("--hs256", action="store_true", help="generate an HS256 shared secret")
    keys.add_argument("--jwks-url", help="the platform's public keys (RS256/EdDSA)")
    keys.add_argument("--jwks-file", type=Path, help="a JWKS file of public keys, kept inline")
    add.add_argument("--webhook-url", default="", help="where events are POSTed")
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="list platforms (no secret is shown)")
    listing.set_defaults(handler=_list)
    remove = actions.add_parser("remove", help="remove a platform")
    remove.add_argument("id")
    remove.set_defaults(handler=_remove)
    rotate = actions.add_parser("rotate-key", help="issue a new API key (the old one stops)")
    rotate.add_argument("id")
    rotate.set_defaults(handler=_rotate)


def _path(args: argparse.Namespace) -> Path | None:
    raw = args.file or os.environ.get("DECODE_PLATFORMS", "")
    if not str(raw):
        print(
            "decode-runner: no platforms file: pass --file or set DECODE_PLATFORMS", file=sys.stderr
        )
        return None
    return Path(raw)


def _load(path: Path, create: bool) -> Platforms | None:
    if create and not path.exists():
        return Platforms()
    try:
        return load_platforms(path)
    except PlatformConfigError as exc:
        print(f"decode-runner: {exc}", file=sys.stderr)
        return None


def _add(args: argparse.Namespace) -> int:
    path = _path(args)
    platforms = _load(path, create=True) if path else None
    if path is None or platforms is None:
        return _EXIT_USAGE
    if PLATFORM_ID.fullmatch(args.id) is None:
        print(f"decode-runner: {args.id!r}: ids are 1-64 of a-z 0-9 _ . -", file=sys.stderr)
        return _EXIT_USAGE
    if platforms.get(args.id) is not None:
        print(f"decode-runner: platform {args.id!r} exists; remove it first", file=sys.stderr)
        return _EXIT_USAGE
    shown: dict[str, str] = {"api_key": new_api_key()}
    fields: dict[str, Any] = {"name": args.name, "api_key_sha256": hash_api_key(shown["api_key"])}
    if args.hs256:
        fields["hs256_secret"] = shown["hs256_secret"] = new_secret()
    elif args.jwks_url:
        fields["jwks_url"] = args.jwks_url
    else:
        try:
            fields["jwks"] = json.loads(args.jwks_file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            print(f"decode-runner: {args.jwks_file}: {exc}", file=sys.stderr)
            return _EXIT_USAGE
    if args.webhook_url:
        fields["webhook_url"] = args.webhook_url
        fields["webhook_secret"] = shown["webhook_secret"] = new_secret()
    candidate = Platform(args.id, tuple(args.origin), **fields)
    if not _save(path, Platforms({**platforms.by_id, args.id: candidate})):
        return _EXIT_USAGE
    print(f"platform {args.id} added to {path}. Copy these now: they are not shown again.")
    for key, value in shown.items():
        print(f"  {key} = {value}")
    return 0


def _save(path: Path, platforms: Platforms) -> bool:
    """Check the new file by loading it before it replaces the old one."""
    trial = path.with_name(path.name + ".check")
    try:
        save_platforms(trial, platforms)
        load_platforms(trial)
    except PlatformConfigError as exc:
        print(f"decode-runner: {exc.field}: {exc.reason}", file=sys.stderr)
        trial.unlink(missing_ok=True)
        return False
    os.replace(trial, path)
    return True


def _list(args: argparse.Namespace) -> int:
    path = _path(args)
    platforms = _load(path, create=False) if path else None
    if platforms is None:
        return _EXIT_USAGE
    for p in platforms.by_id.values():
        keys = "HS256 secret" if p.hs256_secret else p.jwks_url or "inline JWKS"
        print(f"{p.id}\t{p.name or '-'}\t{', '.join(p.origins)}\tkeys: {keys}", end="")
        print(f"\twebhook: {p.webhook_url or '-'}\tAPI key: {'set' if p.api_key_sha256 else '-'}")
    return 0


def _existing(args: argparse.Namespace) -> tuple[Path, Platforms, Platform] | None:
    """The file, its platforms and the one ``args.id`` names; None (reported) otherwise."""
    path = _path(args)
    platforms = _load(path, create=False) if path else None
    if path is None or platforms is None:
        return None
    found = platforms.get(args.id)
    if found is None:
        print(f"decode-runner: no platform {args.id!r} in {path}", file=sys.stderr)
        return None
    return path, platforms, found


def _remove(args: argparse.Namespace) -> int:
    existing = _existing(args)
    if existing is None:
        return _EXIT_USAGE
    path, platforms, _ = existing
    remaining = {pid: p for pid, p in platforms.by_id.items() if pid != args.id}
    return 0 if _save(path, Platforms(remaining)) else _EXIT_USAGE


def _rotate(args: argparse.Namespace) -> int:
    existing = _existing(args)
    if existing is None:
        return _EXIT_USAGE
    path, platforms, found = existing
    key = new_api_key()
    updated = replace(found, api_key_sha256=hash_api_key(key))
    if not _save(path, Platforms({**platforms.by_id, args.id: updated})):
        return _EXIT_USAGE
    print(f"new API key for {args.id} (not shown again): {key}")
    return 0
