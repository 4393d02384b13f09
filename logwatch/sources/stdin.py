"""Standard input as a source (``--source stdin`` or ``-``): whole lines, no checkpoints.

Reading happens in one thread (a pipe cannot be polled with pread); chunks cross to the event
loop through ``emit``, which applies the same backpressure as the file source. A line longer
than the cap is skipped and counted, never buffered whole. End of input ends the logical
stream with a ``closed`` chunk, so an unfinished partial sequence is reported.
"""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO

from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk, FileIdentity
from logwatch.sources.tail.tailer import Emit

log = logging.getLogger("logwatch.stdin")

STDIN_KEY = "-"
_IDENTITY = FileIdentity(path=STDIN_KEY, dev=0, ino=0, fingerprint="")


class StdinSource:
    """Reads a binary stream to its end, or until ``stop`` is set (checked between reads)."""

    def __init__(
        self, stream: BinaryIO, *, chunk_bytes: int, max_line_bytes: int, stats: DaemonStats
    ) -> None:
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._max_line_bytes = max_line_bytes
        self._stats = stats
        self.started = False
        self._offset = 0
        self._lineno = 1

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        self.started = True
        carry = b""
        skipping = False
        while not stop.is_set():
            data = await asyncio.to_thread(self._read)
            if not data:
                break
            if skipping:
                newline = data.find(b"\n")
                if newline < 0:
                    self._offset += len(data)
                    continue
                self._skip(newline + 1)
                data = data[newline + 1 :]
                skipping = False
            buf = carry + data
            last = buf.rfind(b"\n")
            if last < 0:
                if len(buf) > self._max_line_bytes:
                    self._offset += len(buf)
                    carry, skipping = b"", True
                else:
                    carry = buf
                continue
            carry = buf[last + 1 :]
            await emit(self._chunk(buf[: last + 1]))
        if carry and not stop.is_set():
            # the last line of the input has no newline: it is still a whole line
            await emit(self._chunk(carry + b"\n"))
        await emit(FileChunk(STDIN_KEY, _IDENTITY, b"", self._offset, self._lineno, 0, closed=True))

    def _read(self) -> bytes:
        read1 = getattr(self._stream, "read1", None)
        if read1 is not None:
            data: bytes = read1(self._chunk_bytes)
            return data
        return self._stream.read(self._chunk_bytes)

    def _chunk(self, data: bytes) -> FileChunk:
        lines = data.count(b"\n")
        chunk = FileChunk(STDIN_KEY, _IDENTITY, data, self._offset, self._lineno, lines)
        self._offset += len(data)
        self._lineno += lines
        return chunk

    def _skip(self, tail_bytes: int) -> None:
        self._offset += tail_bytes
        self._lineno += 1
        self._stats.lines_too_long += 1
        log.warning("line over the size cap skipped", extra={"path": STDIN_KEY})
