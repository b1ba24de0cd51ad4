"""The engine's HTTP answers, as read by the asyncio client of the hot path (no engine needed)."""

from __future__ import annotations

import asyncio

import pytest

from runner.sandbox.docker_api import _read_response

pytestmark = pytest.mark.anyio


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        (b'HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n{"Id":"abc"}', 201, b'{"Id":"abc"}'),
        (b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", 204, b""),
        (
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'7\r\n{"messa\r\n14;ext=1\r\nge":"No such image"}\r\n0\r\n\r\n',
            404,
            b'{"message":"No such image"}',
        ),
        (b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nno json", 500, b"no json"),
    ],
    ids=["length", "empty", "chunked", "until-close"],
)
async def test_read_response_by_length_in_chunks_or_until_close(
    raw: bytes, status: int, body: bytes
) -> None:
    assert await _read_response(_reader(raw)) == (status, body)


async def test_read_response_cut_short_is_an_error() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await _read_response(_reader(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
