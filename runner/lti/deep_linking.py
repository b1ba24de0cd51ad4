"""Deep Linking 2.0: the signed ``LtiDeepLinkingResponse`` naming the exercises an instructor
picked, each an ``ltiResourceLink`` with a line item (``scoreMaximum`` = its number of tests) and
a custom parameter naming the exercise."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from runner.lti import claims as c
from runner.store import RegistrationRow

RESPONSE_LIFETIME_S = 300


@dataclass(frozen=True)
class Pick:
    exercise_id: str
    title: str
    tests: int


def content_item(pick: Pick, launch_url: str) -> dict[str, Any]:
    return {
        "type": "ltiResourceLink",
        "title": pick.title,
        "url": launch_url,
        "custom": {"exercise": pick.exercise_id},
        "lineItem": {
            "scoreMaximum": max(1, pick.tests),
            "label": pick.title,
            "resourceId": pick.exercise_id,
        },
        "iframe": {"width": 1100, "height": 760},
    }


def response_claims(
    registration: RegistrationRow,
    deployment_id: str,
    data: str | None,
    picks: list[Pick],
    launch_url: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The JWT body; the tool's key signs it (``ToolKeys.sign``)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": registration.client_id,
        "aud": registration.issuer,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME_S,
        "nonce": uuid.uuid4().hex,
        c.DEPLOYMENT_ID: deployment_id,
        c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: c.LTI_VERSION,
        c.CONTENT_ITEMS: [content_item(p, launch_url) for p in picks],
    }
    if data is not None:
        claims[c.DL_DATA] = data
    return claims
