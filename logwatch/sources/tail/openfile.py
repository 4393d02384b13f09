"""One open physical file and the whole-line reads from it.

The read position only ever moves past complete lines (ending in ``\\n``): a last line that
is still being written is re-read on the next poll, never delivered in halves. A line longer
than the cap is skipped in bounded reads (never buffered whole) and counted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk, FileIdentity
from logwatch.sources.tail.fingerprint import FINGERPRINT_BYTES, fingerprint_of, read_prefix

log = logging.getLogger("logwatch.tail")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    chunk_bytes: int  # most bytes handed on per read
    max_line_bytes: int  # longer lines are skipped and counted


class OpenFile:
    """A physical file held open by descriptor, so renames and deletions do not lose it.

    Failure modes: a shrinking file (truncation, copytruncate) or one whose first bytes
    changed restarts at offset 0 and counts a truncation; bytes that were written before the
    truncation but never read are counted as lost.
    """

    def __init__(self, path: str, fd: int, offset: int = 0, lineno: int = 1) -> None:
        st = os.fstat(fd)
        self.path = path
        self.fd = fd
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.offset = offset
        self.lineno = lineno
        self.size = st.st_size
        self.prefix = read_prefix(fd)
        self.fingerprint = fingerprint_of(self.prefix)
        self.skipping = False  # inside a line over the cap
        self.starts_new_file = False  # next chunk carries new_file=True
        self.last_growth = time.monotonic()
        self._closed = False

    @classmethod
    def open(cls, path: str, offset: int = 0, lineno: int = 1) -> OpenFile:
        """Open ``path`` read-only; raises OSError when it is gone or unreadable."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return cls(path, fd, offset, lineno)
        except BaseException:
            os.close(fd)
            raise

    def identity(self) -> FileIdentity:
        return FileIdentity(self.path, self.dev, self.ino, self.fingerprint)

    def same_file(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) == (self.dev, self.ino)

    def remaining(self) -> int:
        return max(0, self.size - self.offset)

    def refresh(self, stats: DaemonStats) -> None:
        """Re-stat the file and detect truncation (smaller, or first bytes replaced)."""
        size = os.fstat(self.fd).st_size
        if size != self.size:
            self.last_growth = time.monotonic()
        # a file only grows while it is the same content: shrinking, or first bytes that
        # changed (copytruncate followed by fast writes, even to the same size), means it was
        # truncated; the first bytes are re-read every time (one small pread per poll)
        truncated = size < self.size or size < self.offset
        if not truncated and self.offset > 0 and self.prefix:
            head = os.pread(self.fd, FINGERPRINT_BYTES, 0)
            truncated = not head.startswith(self.prefix)
            if not truncated and len(head) > len(self.prefix):
                self.prefix = head
                self.fingerprint = fingerprint_of(head)
        if truncated:
            unread = max(0, self.size - self.offset)
            stats.truncations += 1
            stats.lost_bytes += unread
            log.warning(
                "file truncated; reading again from the start",
                extra={"path": self.path, "offset": self.offset, "lost_bytes": unread},
            )
            self.offset = 0
            self.lineno = 1
            self.skipping = False
            self.starts_new_file = True
            self.prefix = read_prefix(self.fd)
            self.fingerprint = fingerprint_of(self.prefix)
        elif not self.prefix and size > 0:
            self.prefix = read_prefix(self.fd)
            self.fingerprint = fingerprint_of(self.prefix)
        self.size = size

    def read_lines(self, key: str, limits: ReadLimits, stats: DaemonStats) -> FileChunk | None:
        """The next whole lines (at most about ``limits.chunk_bytes``), or None at EOF /
        while only an unfinished line is there."""
        while self.offset < self.size:
            want = min(self.size - self.offset, max(limits.chunk_bytes, limits.max_line_bytes + 1))
            buf = os.pread(self.fd, want, self.offset)
            if not buf:
                return None
            start = 0
            if self.skipping:
                newline = buf.find(b"\n")
                if newline < 0:
                    self.offset += len(buf)
                    continue
                start = newline + 1
                self._skipped_line(stats, newline + 1)
            last = buf.rfind(b"\n", start)
            if last < 0:
                if len(buf) - start > limits.max_line_bytes:
                    self.skipping = True
                    self.offset += len(buf)
                    continue
                return None
            data = buf[start : last + 1] if (start or last + 1 < len(buf)) else buf
            chunk = FileChunk(
                key=key,
                identity=self.identity(),
                data=data,
                start_offset=self.offset,
                start_lineno=self.lineno,
                lines=data.count(b"\n"),
                new_file=self.starts_new_file,
                file_size=self.size,
            )
            self.starts_new_file = False
            self.offset = chunk.end_offset
            self.lineno = chunk.end_lineno
            return chunk
        return None

    def announce(self, key: str) -> FileChunk:
        """An empty chunk at the current position (the reader starts or switches here)."""
        chunk = FileChunk(
            key=key,
            identity=self.identity(),
            data=b"",
            start_offset=self.offset,
            start_lineno=self.lineno,
            lines=0,
            new_file=self.starts_new_file,
            file_size=self.size,
        )
        self.starts_new_file = False
        return chunk

    def _skipped_line(self, stats: DaemonStats, tail_bytes: int) -> None:
        self.offset += tail_bytes
        self.lineno += 1
        self.skipping = False
        stats.lines_too_long += 1
        log.warning(
            "line over the size cap skipped",
            extra={"path": self.path, "line": self.lineno - 1},
        )

    def close(self) -> None:
        """Idempotent."""
        if not self._closed:
            self._closed = True
            os.close(self.fd)
