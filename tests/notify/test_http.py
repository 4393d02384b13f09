"""The shared HTTP client: total timeouts, bounded replies, status policy, Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from logwatch.notify.http import HttpReply, SharedHttpClient, classify, parse_retry_after

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handle: Handler, path: str) -> AsyncIterator[str]:
    """An asyncio TCP server on 127.0.0.1 speaking raw HTTP; its connections are all
    closed (and their handlers finished) at exit."""
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """200 at once, then the body one byte every 100 ms (for 10 s)."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
    for _ in range(100):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.1)


async def big_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 400 with a 5 MiB body."""
    size = 5 * 1024 * 1024
    writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n" % size)
    for _ in range(size // 65536):
        writer.write(b"e" * 65536)
        await writer.drain()


async def test_a_trickling_reply_hits_the_total_timeout() -> None:
    client = SharedHttpClient()
    async with raw_server(drip, "/drip") as url:
        started = time.monotonic()
        result = await client.post_result(url, b"{}", headers={}, timeout_s=0.5)
    assert time.monotonic() - started < 2.0  # per-phase timeouts alone would wait ~10 s
    assert result.outcome == "retry" and result.reason.startswith("timeout after 0.5s")
    await client.aclose()
    await client.aclose()
    closed = await client.post_result("http://127.0.0.1:9/", b"{}", headers={}, timeout_s=0.5)
    assert closed.outcome == "retry" and closed.reason == "HTTP client is closed"


async def test_only_the_start_of_a_huge_reply_is_read() -> None:
    client = SharedHttpClient()
    async with raw_server(big_reply, "/big") as url:
        reply = await client.post(url, b"{}", headers={}, timeout_s=5)
    assert reply.status == 400 and len(reply.body) == 64 * 1024
    result = classify(reply)
    assert result.outcome == "failed" and result.reason == "HTTP 400: " + "e" * 200
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "delivered"), (202, "delivered"), (204, "delivered"), (400, "failed"), (403, "failed"),
     (404, "failed"), (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry")],
)  # fmt: skip
def test_status_policy(status: int, outcome: str) -> None:
    assert classify(HttpReply(status, b"", None)).outcome == outcome


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    reply = classify(HttpReply(429, b"slow down", 12.0))
    assert (reply.outcome, reply.retry_after_s, reply.reason) == (
        "retry",
        12.0,
        "HTTP 429: slow down",
    )
