"""A MOOC backend's side of decode-runner, in Python: sign a launch token, verify a webhook,
resynchronise progress from the platform API. Copy what you need; only PyJWT is required.

    python mooc_backend.py token SUB            # prints a launch token (env: see below)
    python mooc_backend.py verify < body.json   # env DECODE_SIGNATURE: checks a webhook
    python mooc_backend.py sync [CURSOR]        # prints every change since CURSOR

Environment: RUNNER_URL, PLATFORM_ID, PLATFORM_SECRET (HS256), WEBHOOK_SECRET, API_KEY,
AUDIENCE (default "decode-runner").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
import uuid

import jwt  # PyJWT


def launch_token(sub: str, name: str | None = None, return_url: str | None = None) -> str:
    """One token per page view: 5 minutes of validity, a fresh jti (each token works once)."""
    now = int(time.time())
    claims = {
        "iss": os.environ["PLATFORM_ID"],
        "sub": sub,  # your user id: stable, never an e-mail address
        "aud": os.environ.get("AUDIENCE", "decode-runner"),
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "locale": "fr",
    }
    if name:
        claims["name"] = name
    if return_url:
        claims["return_url"] = return_url
    return jwt.encode(claims, os.environ["PLATFORM_SECRET"], algorithm="HS256")


def verify_webhook(secret: str, signature_header: str, body: bytes, tolerance_s: int = 300) -> bool:
    """``Decode-Signature: t=<unix>,v1=<hex>``: HMAC-SHA256 of ``"<t>." + raw body``."""
    try:
        fields = dict(item.split("=", 1) for item in signature_header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False  # too old: a replayed delivery
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def resync(cursor: str | None = None) -> str | None:
    """Reads every progress change since ``cursor``; returns the cursor to store for next time."""
    while True:
        query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
        request = urllib.request.Request(
            f"{os.environ['RUNNER_URL']}/api/platform/v1/progress{query}",
            headers={"Authorization": f"Bearer {os.environ['API_KEY']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
        for change in page["changes"]:
            print(change["sub"], change["progress"]["exercise"], change["progress"]["status"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "token":
        print(launch_token(sys.argv[2]))
    elif command == "verify":
        ok = verify_webhook(
            os.environ["WEBHOOK_SECRET"], os.environ["DECODE_SIGNATURE"], sys.stdin.buffer.read()
        )
        print("ok" if ok else "refused")
        sys.exit(0 if ok else 1)
    elif command == "sync":
        print("next cursor:", resync(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        sys.exit(__doc__)
