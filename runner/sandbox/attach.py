"""An async, hijacked attach connection to a container's stdio over the Docker engine's Unix socket.

The Docker SDK's attach is blocking and would cost one worker thread per live submission; this speaks
the engine's HTTP upgrade directly with asyncio, so thousands of sessions cost no threads.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from runner.sandbox.errors import engine_error

_FRAME_HEADER = struct.Struct(">BxxxL")  # stream id, 3 padding bytes, payload length
STDOUT, STDERR = 1, 2
_MAX_LINE = 4 * 1024 * 1024
_STDERR_KEPT = 65536  # one harness event; output chunks are 64 KiB at most


class AttachError(ConnectionError):
    """The engine's answer to the attach request is not HTTP."""


class HarnessProtocolError(ValueError):
    """The container sent something that is not a well-formed harness message."""


class Attachment:
    """Bidirectional stdio of one container: write raw stdin, read demultiplexed frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lines = bytearray()
        self._stderr = bytearray()

    @classmethod
    async def open(cls, socket_path: str, container_id: str) -> Attachment:
        reader, writer = await asyncio.open_unix_connection(socket_path, limit=_MAX_LINE)
        request = (
            f"POST /containers/{container_id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
            "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1:2]
        if status not in ([b"101"], [b"200"]):
            writer.close()
            line = head.splitlines()[0].decode(errors="replace")
            if not (status and status[0].isdigit()):
                raise AttachError(f"attach answered {line!r}")
            raise engine_error(int(status[0]), f"attach refused: {line}")
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        """The harness's next JSON event, or None when the container's output has ended."""
        while True:
            newline = self._lines.find(b"\n")
            if newline >= 0:
                line = bytes(self._lines[:newline])
                del self._lines[: newline + 1]
                if line.strip():
                    return _decode(line)
                continue
            if len(self._lines) > _MAX_LINE:
                raise HarnessProtocolError("a harness message longer than 4 MiB")
            frame = await self._frame()
            if frame is None:
                return None
            stream, payload = frame
            if stream == STDERR:
                self._stderr += payload
                del self._stderr[:-_STDERR_KEPT]
            else:
                self._lines += payload

    @property
    def harness_stderr(self) -> str:
        """What the harness itself wrote to stderr (a crash), for operators' logs."""
        return self._stderr.decode(errors="replace")

    async def _frame(self) -> tuple[int, bytes] | None:
        try:
            header = await self._reader.readexactly(_FRAME_HEADER.size)
            stream, length = _FRAME_HEADER.unpack(header)
            return stream, await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        self._writer.close()


def _decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise HarnessProtocolError(f"not JSON: {line[:80]!r}") from exc
    if not isinstance(message, dict):
        raise HarnessProtocolError(f"not an object: {line[:80]!r}")
    return message
