"""The one boundary to the Docker engine: every blocking SDK call runs here, in a worker thread.

Docker's exceptions are translated into ``SandboxUnavailable`` at this boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Ulimit

from runner.sandbox.attach import Attachment, HarnessProtocolError
from runner.sandbox.models import Language, Limits
from runner.settings import Settings

logger = logging.getLogger(__name__)

LABEL = "decode-runner"
INSTANCE_LABEL = "decode-runner.instance"
SANDBOX_UID = "1000:1000"
READY_TIMEOUT_S = 10.0
RUNSC_PIDS = 1024  # bounds gVisor's own threads; learner processes get RLIMIT_NPROC inside
T = TypeVar("T")


def image_name(settings: Settings, language: Language) -> str:
    return f"{settings.image_prefix}-{language.value}:latest"


class SandboxUnavailable(RuntimeError):
    """The engine cannot be reached or an image is missing; the message says which."""


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

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call in a worker thread, translating engine errors."""
        try:
            return await anyio.to_thread.run_sync(
                lambda: fn(*args, **kwargs), abandon_on_cancel=True
            )
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"sandbox image missing ({exc.explanation}): run `make images`"
            ) from exc
        except (requests.exceptions.ConnectionError, OSError) as exc:
            self._reset_client()  # reconnect next time: the engine may come back
            raise SandboxUnavailable(
                f"Docker engine unreachable at {self._settings.docker_socket}: {exc}"
            ) from exc
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise SandboxUnavailable(f"Docker engine error: {exc}") from exc

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
                raise SandboxUnavailable(
                    f"Docker engine unreachable at {self._settings.docker_socket}: {exc}"
                ) from exc
        return self._client

    async def ping(self) -> bool:
        client = await self.client()
        return bool(await self.call(client.ping))

    async def image_present(self, language: Language) -> bool:
        client = await self.client()
        try:
            await self.call(client.images.get, image_name(self._settings, language))
        except SandboxUnavailable:
            return False
        return True

    async def launch(self, language: Language, limits: Limits) -> Container:
        """Create, attach, start; then wait for the harness's ``ready``."""
        client = await self.client()
        args = self._create_args(client, language, limits)
        with anyio.CancelScope(shield=True):  # a created container must be known, to be removed
            created = await self.call(client.api.create_container, **args)
        container_id: str = created["Id"]
        attachment: Attachment | None = None
        try:
            attachment = await Attachment.open(self._settings.docker_socket, container_id)
            await self.call(client.api.start, container_id)
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

    async def remove(self, container_id: str) -> None:
        """Kill and remove; never raises (a reaper removes what this could not)."""
        for attempt in (1, 2, 3):
            try:
                client = await self.client()
                await self.call(client.api.remove_container, container_id, force=True)
                return
            except SandboxUnavailable as exc:
                reason = str(exc)
                if "No such container" in reason or "already in progress" in reason:
                    return
                if "is not running" in reason and attempt < 3:
                    # The harness exits when its stdin closes: the container stopped while the
                    # engine was killing it, and Docker 20.10 refuses that removal. Again.
                    await anyio.sleep(0.05)
                    continue
                logger.warning("could not remove container %s: %s", container_id[:12], exc)
                return

    async def kill(self, container_id: str) -> None:
        try:
            client = await self.client()
            await self.call(client.api.kill, container_id)
        except SandboxUnavailable:
            pass  # already gone

    async def oom_killed(self, container_id: str) -> bool:
        try:
            client = await self.client()
            state = (await self.call(client.api.inspect_container, container_id))["State"]
        except SandboxUnavailable:
            return False
        return bool(state.get("OOMKilled"))

    async def list_ids(self) -> list[str]:
        client = await self.client()
        label = f"{INSTANCE_LABEL}={self._settings.instance}"
        found = await self.call(client.api.containers, all=True, filters={"label": label})
        return [c["Id"] for c in found]

    def close(self) -> None:
        self._reset_client()

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
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            init=False,  # the harness is PID 1: the kernel shields it from its own uid's signals
            runtime=settings.sandbox_runtime or None,
            log_config=LogConfig(type="none"),
            ulimits=[
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nofile", soft=256, hard=256),
            ],
        )
        return {
            "image": image_name(settings, language),
            "stdin_open": True,
            "tty": False,
            "user": SANDBOX_UID,
            "hostname": "sandbox",
            "environment": {},
            "network_disabled": True,
            "labels": {LABEL: "1", INSTANCE_LABEL: settings.instance},
            "host_config": host_config,
        }
