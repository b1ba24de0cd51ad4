"""The one boundary to the Docker engine. Docker's errors become the typed errors of errors.py here.

Most calls go through the Docker SDK, which blocks: they run in worker threads. The three calls every
submission makes (create, start, remove) speak the engine's HTTP API directly with asyncio instead,
as the attach does (attach.py): 1.6 ms of CPU for the three against 6.4 ms through the SDK and its
threads, measured, on a 2-core host where each container's CPU bounds a crowd's throughput. The
SDK still builds the create request's body.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import anyio
import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Ulimit

from runner.sandbox.attach import Attachment, HarnessProtocolError
from runner.sandbox.errors import (
    Conflict,
    ContainerGone,
    EngineError,
    EngineUnreachable,
    ImageMissing,
    SandboxUnavailable,
    engine_error,
)
from runner.sandbox.models import Language, Limits
from runner.settings import Settings

logger = logging.getLogger(__name__)

LABEL = "decode-runner"
NODE_LABEL = "decode-runner.node"
OLD_NODE_LABEL = "decode-runner.instance"  # its name before clusters; still reaped
SANDBOX_UID = "1000:1000"
SECCOMP_PROFILE = Path(__file__).resolve().parents[2] / "sandbox_images" / "seccomp.json"
# Docker's own masked paths, plus what tells a learner about the host: its memory, load, uptime,
# kernel build, boot id and block devices (the kernel release stays visible through uname(2)).
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/proc/meminfo",
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/version",
    "/proc/sys/kernel/random/boot_id",
    "/sys/block",
    "/sys/devices/virtual/block",
)
READY_TIMEOUT_S = 10.0
ENGINE_TIMEOUT_S = 60.0  # one create, start or remove, however loaded the engine
RUNSC_PIDS = 1024  # bounds gVisor's own threads; learner processes get RLIMIT_NPROC inside
REMOVE_ATTEMPTS = 5
EXIT_WAIT_S = 2.0
REMOVE_RETRY_S = 0.05  # then doubling: 0.75 s in all
T = TypeVar("T")


def image_name(settings: Settings, language: Language) -> str:
    return f"{settings.image_prefix}-{language.value}:latest"


@dataclass
class Container:
    """A created, attached and started container whose harness said it is ready."""

    id: str
    language: Language
    limits: Limits
    attachment: Attachment


class DockerAPI:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: docker.DockerClient | None = None
        self._create_bodies: dict[tuple[Language, Limits], bytes] = {}

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call in a worker thread, translating engine errors."""
        try:
            return await anyio.to_thread.run_sync(
                lambda: fn(*args, **kwargs), abandon_on_cancel=True
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(exc.status_code or 404, str(exc.explanation)) from exc
        except docker.errors.APIError as exc:
            if exc.status_code is None:  # no answer at all
                raise self._unreachable(str(exc)) from exc
            raise engine_error(exc.status_code, str(exc.explanation or exc)) from exc
        except (requests.exceptions.ConnectionError, OSError) as exc:
            raise self._unreachable(str(exc)) from exc
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise SandboxUnavailable(f"Docker engine error: {exc}") from exc

    def _unreachable(self, reason: str) -> EngineUnreachable:
        self._reset_client()  # reconnect next time: the engine may come back
        return EngineUnreachable(self._settings.docker_socket, reason)

    def _reset_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def client(self) -> docker.DockerClient:
        if self._client is None:
            url = f"unix://{self._settings.docker_socket}"
            try:  # the client asks the engine its API version: the engine must answer
                self._client = await anyio.to_thread.run_sync(
                    lambda: docker.DockerClient(base_url=url, timeout=30), abandon_on_cancel=True
                )
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise self._unreachable(str(exc)) from exc
        return self._client

    async def ping(self) -> bool:
        client = await self.client()
        return bool(await self.call(client.ping))

    async def image_present(self, language: Language) -> bool:
        client = await self.client()
        try:
            await self.call(client.images.get, image_name(self._settings, language))
        except ImageMissing:
            return False
        return True

    async def launch(self, language: Language, limits: Limits) -> Container:
        """Create, attach, start; then wait for the harness's ``ready``."""
        with anyio.CancelScope(shield=True):  # a created container must be known, to be removed
            container_id = await self.create(language, limits)
        attachment: Attachment | None = None
        try:
            attachment = await Attachment.open(self._settings.docker_socket, container_id)
            await self.start(container_id)
            with anyio.fail_after(READY_TIMEOUT_S):
                event = await attachment.receive()
            if event != {"ev": "ready"}:
                raise HarnessProtocolError(f"expected ready, got {event!r}")
        except BaseException as exc:
            if attachment is not None:
                attachment.close()
            with anyio.CancelScope(shield=True):
                await self.remove(container_id)
            if isinstance(exc, (OSError, TimeoutError, HarnessProtocolError, EOFError)):
                raise SandboxUnavailable(f"sandbox did not start ({exc!r})") from exc
            raise
        return Container(container_id, language, limits, attachment)

    async def create(self, language: Language, limits: Limits) -> str:
        """A new container (not started) whose harness will enforce ``limits``; its id."""
        body = await self._create_body(language, limits)
        created = await self._engine("POST", "/containers/create", body, not_found=ImageMissing)
        return str(created["Id"])

    async def start(self, container_id: str) -> None:
        await self._engine("POST", f"/containers/{container_id}/start")

    async def remove(self, container_id: str) -> None:
        """Kill and remove; never raises (a reaper removes what this could not)."""
        delay = REMOVE_RETRY_S
        for attempt in range(1, REMOVE_ATTEMPTS + 1):
            try:
                await self._engine("DELETE", f"/containers/{container_id}?force=1")
                return
            except ContainerGone:
                return
            except Conflict as exc:
                # The harness exits when its stdin closes: the container stopped while the engine
                # was killing it, and Docker 20.10 refuses that removal once; or another removal
                # is under way, which the next attempt sees through (404). Again, a little later.
                if attempt == REMOVE_ATTEMPTS:
                    logger.warning("could not remove container %s: %s", container_id[:12], exc)
                    return
                await anyio.sleep(delay)
                delay *= 2
            except SandboxUnavailable as exc:
                logger.warning("could not remove container %s: %s", container_id[:12], exc)
                return

    async def kill(self, container_id: str) -> None:
        """Kill at once; never raises (a container already gone or stopped is what was wanted)."""
        try:
            client = await self.client()
            await self.call(client.api.kill, container_id)
        except (ContainerGone, Conflict):
            pass
        except SandboxUnavailable as exc:
            logger.warning("could not kill container %s: %s", container_id[:12], exc)

    async def oom_killed(self, container_id: str) -> bool:
        """Whether the engine says the memory limit killed the container. It records that with the
        container's exit, which may come just after its output ends: wait for it (briefly)."""
        try:
            with anyio.move_on_after(EXIT_WAIT_S):
                await self._engine("POST", f"/containers/{container_id}/wait?condition=not-running")
            state = (await self._engine("GET", f"/containers/{container_id}/json"))["State"]
        except SandboxUnavailable:  # gone, or the engine cannot say: not known to be memory
            return False
        return bool(state.get("OOMKilled"))

    async def list_ids(self) -> list[str]:
        """This node's containers, under the label's current name and its old one (containers
        left by a process from before the rename are reaped too)."""
        client = await self.client()
        ids: list[str] = []
        for key in (NODE_LABEL, OLD_NODE_LABEL):
            label = f"{key}={self._settings.node_id}"
            found = await self.call(client.api.containers, all=True, filters={"label": label})
            ids += [c["Id"] for c in found if c["Id"] not in ids]
        return ids

    def close(self) -> None:
        self._reset_client()

    async def _engine(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        not_found: type[EngineError] = ContainerGone,
    ) -> Any:
        """One request to the engine's HTTP API over its Unix socket; the decoded JSON answer.

        An error answer raises ``engine_error(status, …)``; ``not_found`` is what a 404 means here.
        """
        client = await self.client()  # its API version was negotiated with the engine
        head = (
            f"{method} /v{client.api.api_version}{path} HTTP/1.1\r\nHost: docker\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            with anyio.fail_after(ENGINE_TIMEOUT_S):
                reader, writer = await asyncio.open_unix_connection(self._settings.docker_socket)
                try:
                    writer.write(head.encode() + body)
                    await writer.drain()
                    status, payload = await _read_response(reader)
                finally:
                    writer.close()
        except (OSError, TimeoutError, EOFError, ValueError) as exc:
            raise self._unreachable(repr(exc)) from exc
        try:
            answer = json.loads(payload) if payload.strip() else None
        except ValueError:  # not JSON: an error page, or a broken engine
            answer = None
        if status < 300 and (answer is not None or not payload.strip()):
            return answer
        message = (
            answer.get("message", "")
            if isinstance(answer, dict)
            else payload.decode(errors="replace")
        )
        raise engine_error(status, message, not_found)

    async def _create_body(self, language: Language, limits: Limits) -> bytes:
        """The create request for these limits, built by the SDK once and kept."""
        key = (language, limits)
        if key not in self._create_bodies:
            client = await self.client()
            args = self._create_args(client, language, limits)
            config = client.api.create_container_config(**args)
            self._create_bodies[key] = json.dumps(config).encode()
        return self._create_bodies[key]

    def _create_args(
        self, client: docker.DockerClient, language: Language, limits: Limits
    ) -> dict[str, Any]:
        settings = self._settings
        host_config = client.api.create_host_config(
            network_mode="none",
            mem_limit=f"{limits.memory_mib}m",
            memswap_limit=f"{limits.memory_mib}m",
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=RUNSC_PIDS if settings.sandbox_runtime == "runsc" else limits.pids,
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmp_mib}m,mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges", f"seccomp={seccomp_profile()}"],
            ipc_mode="private",
            init=False,  # the harness is PID 1: the kernel shields it from its own uid's signals
            runtime=settings.sandbox_runtime or None,
            log_config=LogConfig(type="none"),
            ulimits=[
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nofile", soft=256, hard=256),
            ],
        )
        host_config["MaskedPaths"] = list(MASKED_PATHS)
        return {
            "image": image_name(settings, language),
            "command": None,  # the image's: the harness
            "stdin_open": True,
            "tty": False,
            "user": SANDBOX_UID,
            "hostname": "sandbox",
            "environment": {},
            "network_disabled": True,
            "labels": {LABEL: "1", NODE_LABEL: settings.node_id},
            "host_config": host_config,
        }


@cache
def seccomp_profile() -> str:
    """sandbox_images/seccomp.json, compacted: Docker takes the profile's text, not a path."""
    return json.dumps(json.loads(SECCOMP_PROFILE.read_text("utf-8")), separators=(",", ":"))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response: by length, in chunks, or until the end."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
        return status, bytes(body)
    return status, await reader.read()
