"""Pure units of runner.identity: the platforms file, launch token rules, keys, webhook signing."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from runner.cli.serve import RedactCredentials
from runner.identity.keys import REFETCH_S, KeyResolver
from runner.identity.platforms import (
    Platform,
    PlatformConfigError,
    Platforms,
    load_platforms,
    save_platforms,
)
from runner.identity.tokens import LaunchError, LaunchFailure, verify_launch
from runner.identity.webhooks import DeliveryPolicy, sign, verify
from runner.web.platform_api import decode_cursor, encode_cursor

pytestmark = pytest.mark.anyio

AUD = "decode-runner"
SECRET = "x" * 40
ORIGIN = "https://mooc.example.org"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def _jwk(public: Any, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else None
    if algorithm is None:
        jwk: dict[str, Any] = jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = algorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid}


HS = Platform("hs", (ORIGIN,), hs256_secret=SECRET)
RS = Platform("rs", (ORIGIN,), jwks={"keys": [_jwk(RSA_KEY.public_key(), "r1")]})
ED = Platform("ed", (ORIGIN,), jwks={"keys": [_jwk(ED_KEY.public_key(), "e1")]})
PLATFORMS = Platforms({p.id: p for p in (HS, RS, ED)})


def _claims(iss: str = "hs", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": iss, "sub": "u1", "aud": AUD, "iat": now, "exp": now + 300, "jti": "j1"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")


async def _verify(token: str) -> Any:
    async def no_fetch(url: str) -> Any:
        raise OSError("no network in unit tests")

    return await verify_launch(token, PLATFORMS, KeyResolver(no_fetch).find, AUD, time.time())


async def _failure(token: str) -> LaunchFailure:
    with pytest.raises(LaunchError) as info:
        await _verify(token)
    return info.value.failure


async def test_token_hs256_rs256_and_eddsa_are_accepted() -> None:
    claims = await _verify(_hs(name="Alice", locale="fr-FR", return_url=f"{ORIGIN}/unit/3"))
    assert (claims.platform.id, claims.subject, claims.locale) == ("hs", "u1", "fr")
    assert claims.return_url == f"{ORIGIN}/unit/3"
    rs = jwt.encode(_claims("rs"), RSA_KEY, algorithm="RS256", headers={"kid": "r1"})
    ed = jwt.encode(_claims("ed"), ED_KEY, algorithm="EdDSA", headers={"kid": "e1"})
    assert (await _verify(rs)).platform.id == "rs"
    assert (await _verify(ed)).platform.id == "ed"


async def test_token_with_forged_signature_is_invalid() -> None:
    forged = jwt.encode(_claims(), "y" * 40, algorithm="HS256")
    assert await _failure(forged) is LaunchFailure.INVALID


async def test_token_alg_none_is_invalid() -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    assert await _failure(unsigned) is LaunchFailure.INVALID


async def test_token_hs256_signed_with_the_rsa_public_key_is_invalid() -> None:
    """The classic HS/RS confusion: the attacker signs with the (public) PEM as a secret."""
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "r1"}
    token = _raw_hs256(header, _claims("rs"), pem)
    assert await _failure(token) is LaunchFailure.INVALID


def _raw_hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """Signed by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret."""
    import base64
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    mac = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{part(mac)}"


async def test_token_expired_and_not_yet_valid() -> None:
    now = int(time.time())
    assert await _failure(_hs(iat=now - 400, exp=now - 100)) is LaunchFailure.EXPIRED
    assert await _failure(_hs(iat=now + 200, exp=now + 500)) is LaunchFailure.NOT_YET_VALID
    assert await _failure(_hs(nbf=now + 200)) is LaunchFailure.NOT_YET_VALID


async def test_token_clock_skew_of_sixty_seconds_is_allowed() -> None:
    now = int(time.time())
    assert (await _verify(_hs(iat=now + 50, exp=now + 350))).subject == "u1"
    assert (await _verify(_hs(iat=now - 300, exp=now - 30))).subject == "u1"


async def test_token_wrong_audience_unknown_issuer_and_lifetime() -> None:
    now = int(time.time())
    assert await _failure(_hs(aud="another-tool")) is LaunchFailure.AUDIENCE
    assert await _failure(_hs(iss="nobody")) is LaunchFailure.UNKNOWN_PLATFORM
    assert await _failure(_hs(exp=now + 3600)) is LaunchFailure.LIFETIME


async def test_token_missing_or_bad_claims_are_invalid() -> None:
    assert await _failure(_hs(jti=None)) is LaunchFailure.INVALID
    assert await _failure(_hs(sub=12)) is LaunchFailure.INVALID
    assert await _failure(_hs(sub="x" * 300)) is LaunchFailure.INVALID
    assert await _failure(_hs(return_url="https://evil.example/")) is LaunchFailure.INVALID


async def test_token_of_100_kb_is_refused_before_parsing() -> None:
    assert await _failure(_hs(name="a" * 100_000)) is LaunchFailure.TOO_LARGE
    assert await _failure("not a token") is LaunchFailure.MALFORMED


async def test_jwks_url_is_cached_and_refetched_for_an_unknown_kid_at_most_so_often() -> None:
    documents = [{"keys": [_jwk(RSA_KEY.public_key(), "old")]}]
    fetched: list[str] = []
    clock = [1000.0]

    async def fetch(url: str) -> Any:
        fetched.append(url)
        return documents[-1]

    platform = Platform("url", (ORIGIN,), jwks_url="https://mooc.example.org/jwks.json")
    resolver = KeyResolver(fetch, clock=lambda: clock[0])
    await resolver.find(platform, "old", "RS256")
    await resolver.find(platform, "old", "RS256")
    assert len(fetched) == 1  # cached
    documents.append({"keys": [_jwk(RSA_KEY.public_key(), "new")]})
    with pytest.raises(LaunchError):  # just fetched: an unknown kid does not refetch yet
        await resolver.find(platform, "new", "RS256")
    clock[0] += REFETCH_S + 1
    await resolver.find(platform, "new", "RS256")  # rotation: refetched, found
    assert len(fetched) == 2
    for kid in ("invented-1", "invented-2", "invented-3"):
        with pytest.raises(LaunchError):
            await resolver.find(platform, kid, "RS256")
    assert len(fetched) == 2  # a flood of invented kids does not flood the platform


async def test_jwks_url_down_is_keys_unavailable() -> None:
    async def down(url: str) -> Any:
        raise OSError("connection refused")

    platform = Platform("url", (ORIGIN,), jwks_url="https://mooc.example.org/jwks.json")
    with pytest.raises(LaunchError) as info:
        await KeyResolver(down).find(platform, "k", "RS256")
    assert info.value.failure is LaunchFailure.KEYS_UNAVAILABLE


def test_platforms_file_round_trip_keeps_secrets_out_of_repr(tmp_path: Path) -> None:
    path = tmp_path / "platforms.toml"
    platform = Platform(
        "mooc",
        (ORIGIN,),
        name='Le "MOOC"',
        hs256_secret=SECRET,
        webhook_url="https://mooc.example.org/hooks",
        webhook_secret="w" * 20,
    )
    save_platforms(path, Platforms({"mooc": platform, "ed": ED}))
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_platforms(path)
    assert loaded.get("mooc") == platform and loaded.get("ed") == ED
    assert SECRET not in repr(loaded) and "w" * 20 not in repr(loaded)
    assert loaded.origins() == (ORIGIN,)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("[platforms.mooc]\norigins = []\nhs256_secret = '" + "x" * 40 + "'", "origins", "origin"),
        (
            "[platforms.mooc]\norigins = ['ftp://x']\nhs256_secret = '" + "x" * 40 + "'",
            "origins",
            "scheme",
        ),
        ("[platforms.mooc]\norigins = ['https://a.b']", "platforms.mooc", "exactly one key"),
        (
            "[platforms.mooc]\norigins = ['https://a.b']\nhs256_secret = 'short'",
            "hs256_secret",
            "32",
        ),
        ("[platforms.Mooc]\norigins = ['https://a.b']", "platforms.Mooc", "id"),
        ("[platforms.mooc]\norigins = ['https://a.b']\nfoo = 1", "foo", "unknown"),
        ("[platforms.mooc]\norigins = ['https://a.b']\njwks = '{\"keys\": []}'", "jwks", "JWKS"),
        ("[platforms.mooc", "-", "TOML"),
    ],
)
def test_platforms_file_errors_name_file_field_and_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "platforms.toml"
    path.write_text(text)
    with pytest.raises(PlatformConfigError) as info:
        load_platforms(path)
    assert info.value.path == str(path)
    assert field in info.value.field and reason in info.value.reason


def test_platform_jwks_with_private_key_material_is_refused(tmp_path: Path) -> None:
    private = jwt.algorithms.OKPAlgorithm.to_jwk(ED_KEY, as_dict=True)
    path = tmp_path / "platforms.toml"
    path.write_text(
        f"[platforms.mooc]\norigins = ['{ORIGIN}']\njwks = '{json.dumps({'keys': [private]})}'"
    )
    with pytest.raises(PlatformConfigError, match="private"):
        load_platforms(path)


def test_webhook_signature_verifies_and_refuses_tampering_and_old_timestamps() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("secret", 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify("secret", header, body, now=1_700_000_010)
    assert not verify("secret", header, body + b" ", now=1_700_000_010)
    assert not verify("other", header, body, now=1_700_000_010)
    assert not verify("secret", header, body, now=1_700_000_000 + 301)
    assert not verify("secret", "garbage", body, now=1_700_000_000)


def test_webhook_backoff_doubles_up_to_its_ceiling() -> None:
    policy = DeliveryPolicy(first_retry_s=10, max_retry_s=60)
    for attempts, base in ((1, 10), (2, 20), (3, 40), (4, 60), (9, 60)):
        assert base / 2 <= policy.retry_delay(attempts) <= base


def test_cursor_round_trips_and_refuses_anything_else() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    from runner.web.api import ApiError

    for bad in ("", "42", "!!!", encode_cursor(1)[:-2] + "zz", "c2VxOi0x"):
        with pytest.raises(ApiError) as info:
            decode_cursor(bad)
        assert info.value.code == "invalid_cursor"


def test_log_redaction_masks_credentials_in_access_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws?session=abcDEF123_-&x=1"),
        None,
    )
    RedactCredentials().filter(record)
    assert "abcDEF123" not in record.getMessage() and "session=…&x=1" in record.getMessage()
