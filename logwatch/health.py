"""``/healthz`` and ``/readyz`` on a small HTTP listener of their own.

Kept apart from the metrics endpoint so a kubelet probe never waits behind a scrape.
``/healthz`` answers 200 while the process is alive and its event loop responsive (the probe
itself needs the loop) and the processing side is making progress; ``/readyz`` answers 200 once
the sources started and while the last checkpoint is recent. Bodies are small JSON documents
giving the reason. Each request must arrive within ``request_timeout_s``; anything else than
``GET /healthz`` or ``GET /readyz`` gets 404 or 405.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson

log = logging.getLogger("logwatch.health")


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


Check = Callable[[], Verdict]


class HealthServer:
    """Serves the two probes; ``start`` binds (port 0 picks one), ``close`` is idempotent."""

    def __init__(
        self, host: str, port: int, *, alive: Check, ready: Check, request_timeout_s: float = 5.0
    ) -> None:
        self._host = host
        self._port = port
        self._checks = {"/healthz": alive, "/readyz": ready}
        self._timeout = request_timeout_s
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("health server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health listener started", extra={"host": self._host, "port": self.port})

    async def close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), self._timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._timeout)
            status, body = self._answer(head.split(b"\r\n", 1)[0])
            payload = orjson.dumps(body)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await asyncio.wait_for(writer.drain(), self._timeout)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a slow or broken client: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), self._timeout)

    def _answer(self, request_line: bytes) -> tuple[str, dict[str, object]]:
        parts = request_line.decode("latin-1").split(" ")
        if len(parts) != 3:
            return "400 Bad Request", {"ok": False, "reason": "bad request line"}
        method, target, _ = parts
        check = self._checks.get(target.split("?", 1)[0])
        if check is None:
            return "404 Not Found", {"ok": False, "reason": "not found"}
        if method not in {"GET", "HEAD"}:
            return "405 Method Not Allowed", {"ok": False, "reason": "use GET"}
        verdict = check()
        status = "200 OK" if verdict.ok else "503 Service Unavailable"
        return status, {"ok": verdict.ok, "reason": verdict.reason}
