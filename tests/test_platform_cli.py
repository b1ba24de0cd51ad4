"""``decode-runner platform add|list|remove|rotate-key`` on a real platforms file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from runner.cli import main
from runner.identity.platforms import load_platforms


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_platform_add_list_rotate_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "platforms.toml"
    code, out, _ = _run(
        capsys,
        "platform",
        "--file",
        str(path),
        "add",
        "solerni",
        "--name",
        "Solerni",
        "--origin",
        "https://mooc.example.org",
        "--hs256",
        "--webhook-url",
        "https://mooc.example.org/hooks",
    )
    assert code == 0 and "not shown again" in out
    shown = dict(re.findall(r"^  (\w+) = (\S+)$", out, re.MULTILINE))
    assert set(shown) == {"api_key", "hs256_secret", "webhook_secret"}
    assert path.stat().st_mode & 0o777 == 0o600
    platform = load_platforms(path).get("solerni")
    assert platform is not None and platform.api_key_matches(shown["api_key"])
    assert platform.hs256_secret == shown["hs256_secret"]
    assert shown["api_key"] not in path.read_text()  # only its hash is kept

    code, out, _ = _run(capsys, "platform", "--file", str(path), "list")
    assert code == 0 and "solerni" in out and "HS256 secret" in out
    assert all(secret not in out for secret in shown.values())

    code, _, err = _run(
        capsys,
        "platform",
        "--file",
        str(path),
        "add",
        "solerni",
        "--origin",
        "https://x.org",
        "--hs256",
    )
    assert code == 2 and "exists" in err

    code, out, _ = _run(capsys, "platform", "--file", str(path), "rotate-key", "solerni")
    new_key = out.strip().rsplit(" ", 1)[1]
    rotated = load_platforms(path).get("solerni")
    assert code == 0 and rotated is not None
    assert rotated.api_key_matches(new_key) and not rotated.api_key_matches(shown["api_key"])

    assert _run(capsys, "platform", "--file", str(path), "remove", "solerni")[0] == 0
    assert load_platforms(path).get("solerni") is None
    code, _, err = _run(capsys, "platform", "--file", str(path), "remove", "solerni")
    assert code == 2 and "no platform 'solerni'" in err


def test_platform_add_with_public_keys_inline_and_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "platforms.toml"
    key = ed25519.Ed25519PrivateKey.generate()
    public = tmp_path / "jwks.json"
    public.write_text(json.dumps({"keys": [OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)]}))
    args = ("platform", "--file", str(path), "add")
    code, out, _ = _run(
        capsys, *args, "claro", "--origin", "https://c.org", "--jwks-file", str(public)
    )
    assert code == 0 and "hs256_secret" not in out
    claro = load_platforms(path).get("claro")
    assert claro is not None and claro.algorithms == ("EdDSA",)

    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [OKPAlgorithm.to_jwk(key, as_dict=True)]}))
    code, _, err = _run(
        capsys, *args, "leaky", "--origin", "https://l.org", "--jwks-file", str(private)
    )
    assert code == 2 and "private" in err
    assert load_platforms(path).get("leaky") is None  # the file was left as it was

    code, _, err = _run(capsys, *args, "Bad_Id", "--origin", "https://b.org", "--hs256")
    assert code == 2 and "ids are" in err
    code, _, err = _run(capsys, *args, "ftp", "--origin", "ftp://b.org", "--hs256")
    assert code == 2 and "origins" in err


def test_platform_command_needs_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DECODE_PLATFORMS", raising=False)
    code, _, err = _run(capsys, "platform", "list")
    assert code == 2 and "DECODE_PLATFORMS" in err
