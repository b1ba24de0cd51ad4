"""Builds the sandbox images without a registry: a Debian base from debootstrap, the harness (a static
C program, compiled in its own image), then one Dockerfile per language, which copies the harness.

Each image carries the label ``decode-runner.hash``: the hash of what it was built from, so a build is
skipped when nothing changed. Run as ``python -m runner.sandbox.images build``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
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


class ImageBuildError(RuntimeError):
    pass


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
    """`docker build` of sandbox_images/FOLDER, given the base and harness images' names."""
    stream = client.api.build(
        path=str(IMAGES_DIR / folder),
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
        for name, label in hashes.items():
            if not force and current_hash(client, name) == label:
                continue
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
