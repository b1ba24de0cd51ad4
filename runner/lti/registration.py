"""Registrations: checked fields for the manual path (``decode-runner lti add``), and LTI Dynamic
Registration 1.0 (the tool's configuration, the platform's OpenID configuration)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from runner.lti import claims as c
from runner.store import RegistrationRow

TOOL_NAME = "Décoder le code"


class RegistrationError(ValueError):
    """A registration problem: the field and the reason (for the operator)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def check_url(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 1024:
        raise RegistrationError(field_name, "must be an http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(field_name, f"{value[:80]!r} is not an http(s) URL")
    return value


def _text(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise RegistrationError(field_name, "must be a string of 1-255 characters")
    return value


def new_registration(
    issuer: str,
    client_id: str,
    deployment_ids: list[str],
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str,
    name: str = "",
) -> RegistrationRow:
    """A checked registration with a fresh id (``<issuer host>-<6 hex>``)."""
    check_url("issuer", issuer)
    if not deployment_ids:
        raise RegistrationError("deployment_ids", "at least one deployment id is needed")
    host = re.sub(r"[^a-z0-9]+", "-", (urlsplit(issuer).hostname or "lms").lower()).strip("-")
    return RegistrationRow(
        id=f"{host[:40] or 'lms'}-{secrets.token_hex(3)}",
        issuer=issuer,
        client_id=_text("client_id", client_id),
        deployment_ids=tuple(_text("deployment_id", d) for d in deployment_ids),
        auth_login_url=check_url("auth_login_url", auth_login_url),
        auth_token_url=check_url("auth_token_url", auth_token_url),
        jwks_url=check_url("jwks_url", jwks_url),
        name=(name or urlsplit(issuer).hostname or issuer)[:255],
        created_at=datetime.now(UTC),
    )


@dataclass(frozen=True)
class ToolUrls:
    """Where the tool answers, from its public base URL."""

    base: str

    @property
    def login(self) -> str:
        return self.base + "/lti/login"

    @property
    def launch(self) -> str:
        return self.base + "/lti/launch"

    @property
    def jwks(self) -> str:
        return self.base + "/lti/jwks"


def tool_configuration(urls: ToolUrls) -> dict[str, Any]:
    """The client registration the tool POSTs to the platform (Dynamic Registration §3.3)."""
    host = urlsplit(urls.base).netloc
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": TOOL_NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(c.TOOL_SCOPES),
        c.TOOL_CONFIGURATION: {
            "domain": host,
            "description": "Exercices de programmation corrigés automatiquement.",
            "target_link_uri": urls.launch,
            "claims": ["iss", "sub", "name", "locale"],
            "messages": [
                {"type": c.RESOURCE_LINK_REQUEST, "target_link_uri": urls.launch},
                {
                    "type": c.DEEP_LINKING_REQUEST,
                    "target_link_uri": urls.launch,
                    "label": "Choisir des exercices",
                },
            ],
        },
    }


@dataclass(frozen=True)
class PlatformConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str


def platform_configuration(document: Any, configuration_url: str) -> PlatformConfiguration:
    """Check the platform's OpenID configuration; its issuer must be the configuration URL's
    own prefix (Dynamic Registration §3.5.1), so a URL cannot speak for another issuer."""
    if not isinstance(document, dict):
        raise RegistrationError("openid_configuration", "not a JSON object")
    issuer = check_url("issuer", document.get("issuer"))
    if not configuration_url.startswith(issuer.rstrip("/")):
        raise RegistrationError("issuer", "does not match the configuration URL")
    product = document.get(c.PLATFORM_CONFIGURATION, {})
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=check_url(
            "authorization_endpoint", document.get("authorization_endpoint")
        ),
        token_endpoint=check_url("token_endpoint", document.get("token_endpoint")),
        jwks_uri=check_url("jwks_uri", document.get("jwks_uri")),
        registration_endpoint=check_url(
            "registration_endpoint", document.get("registration_endpoint")
        ),
        product=str(product.get("product_family_code", ""))[:64]
        if isinstance(product, dict)
        else "",
    )


def registered(answer: Any, platform: PlatformConfiguration) -> RegistrationRow:
    """The registration the platform answered (its client id and deployment id)."""
    if not isinstance(answer, dict):
        raise RegistrationError("registration", "the platform answered no JSON object")
    tool = answer.get(c.TOOL_CONFIGURATION, {})
    deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
    return new_registration(
        issuer=platform.issuer,
        client_id=answer.get("client_id"),  # type: ignore[arg-type]
        deployment_ids=[deployment] if isinstance(deployment, str) and deployment else [],
        auth_login_url=platform.authorization_endpoint,
        auth_token_url=platform.token_endpoint,
        jwks_url=platform.jwks_uri,
        name=platform.product or "",
    )
