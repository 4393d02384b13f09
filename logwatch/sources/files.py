"""Replay sources: saved log files, directories of them, and stdin, read in bounded chunks.

Discovery (``discover_streams``): a directory is walked recursively, following symlinks, and
every physical file is read once (on a node, ``/var/log/containers/*.log`` are symlinks into
``/var/log/pods/``; a file reached through a link is named by its resolved path, which carries
pod, namespace and container and sits next to its rotated siblings, which are read too).
Files are grouped into rotation sets (``logwatch.sources.rotation``). ``-`` is stdin.

Reading (``StreamReader``): one decoder per stream, fed whole lines in chunks of about
``chunk_bytes``; plain or gzip (by the ``.gz`` suffix). Memory per reader is one chunk plus
the decoder's partial-line state, whatever the file size. A line longer than the parser's
``max_line_bytes`` is never buffered whole: its head is handed to the decoder (which rejects
it as ``line-too-long``, so it is counted) and the rest skipped.

Failure modes: a missing path or an unreadable file raises ``ReplaySourceError`` before or
while reading (the command fails; a replay with silently missing input would mislead).
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from logwatch.sources.rotation import RotationSet, is_unfinished, rotated_siblings, rotation_sets

if TYPE_CHECKING:
    from parsers import ParsedChunk, ParseOptions

STDIN = "-"


class ReplaySourceError(OSError):
    """An input path does not exist or cannot be read."""


@dataclass(frozen=True, slots=True)
class ReplayStream:
    """One stream to replay: a rotation set of files, or stdin (``parts == ("-",)``)."""

    name: str
    parts: tuple[str, ...]

    @property
    def is_stdin(self) -> bool:
        return self.parts == (STDIN,)


def _walk(directory: Path) -> Iterator[Path]:
    """Files under ``directory``, following directory symlinks but never into a cycle."""
    visited: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        here = os.stat(root)
        if (here.st_dev, here.st_ino) in visited:
            dirs.clear()
            continue
        visited.add((here.st_dev, here.st_ino))
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def discover_streams(paths: Sequence[str]) -> list[ReplayStream]:
    """The streams to replay for command-line ``paths``, each physical file once.

    Raises ReplaySourceError for a path that does not exist. Directory walks skip
    unfinished ``*.tmp`` compressions; files given explicitly are taken as they are.
    """
    seen: set[tuple[int, int]] = set()
    files: list[Path] = []
    streams: list[ReplayStream] = []
    stdin_taken = False
    for given in paths:
        if given == STDIN:
            if not stdin_taken:
                streams.append(ReplayStream(name=STDIN, parts=(STDIN,)))
                stdin_taken = True
            continue
        path = Path(given)
        if not path.exists():
            raise ReplaySourceError(f"{given}: no such file or directory")
        candidates = _walk(path) if path.is_dir() else iter((path,))
        walking = path.is_dir()
        for candidate in candidates:
            if walking and is_unfinished(candidate):
                continue
            linked = walking and candidate.is_symlink()
            target = candidate.resolve() if candidate.is_symlink() else candidate
            # A /var/log/containers link names only the live file; its history (kubelet's
            # rotated files) sits next to the target and belongs to the replay too.
            for found in (target, *(rotated_siblings(target) if linked else ())):
                try:
                    stat = found.stat()
                except OSError:
                    continue  # a dangling symlink in a directory: nothing to read
                if not found.is_file() or (stat.st_dev, stat.st_ino) in seen:
                    continue
                seen.add((stat.st_dev, stat.st_ino))
                files.append(found)
    sets: list[RotationSet] = rotation_sets(files)
    streams.extend(ReplayStream(name=s.name, parts=tuple(str(p) for p in s.parts)) for s in sets)
    return streams


def stream_sizes(streams: Sequence[ReplayStream]) -> int:
    """Total bytes on disk (compressed size for ``.gz``) of the file streams, for progress."""
    total = 0
    for stream in streams:
        for part in stream.parts:
            if part != STDIN:
                try:
                    total += os.path.getsize(part)
                except OSError as exc:
                    raise ReplaySourceError(f"{part}: {exc.strerror}") from exc
    return total


class StreamReader:
    """Reads one ReplayStream through one ``parsers.StreamDecoder``.

    ``read()`` returns the next ParsedChunk, or None once the stream is exhausted (the last
    non-None chunk is the decoder's ``finish()``: an unfinished partial sequence is counted
    as malformed there). ``bytes_read`` counts bytes taken from disk (compressed for gzip).
    ``close()`` is idempotent.
    """

    def __init__(
        self,
        stream: ReplayStream,
        *,
        options: ParseOptions | None = None,
        chunk_bytes: int = 8 << 20,
    ) -> None:
        from parsers import StreamDecoder  # the parsers are the heavy import; load on use

        self.stream = stream
        self._chunk_bytes = chunk_bytes
        self._max_line = (options.max_line_bytes if options is not None else 1 << 20) + 1
        first = stream.parts[0]
        self._decoder = StreamDecoder(first, options=options)
        self._next_part = 0
        self._raw: IO[bytes] | None = None
        self._reader: IO[bytes] | None = None
        self._done_before = 0  # bytes of parts already closed
        self._bytes_read = 0
        self._finished = False

    @property
    def bytes_read(self) -> int:
        # Updated by read() itself, so another thread (progress display) may read it while
        # this reader runs on a read-ahead thread.
        return self._bytes_read

    def read(self) -> ParsedChunk | None:
        while not self._finished:
            if self._reader is None and not self._open_next():
                self._finished = True
                return self._decoder.finish()
            assert self._reader is not None
            data = self._read_lines(self._reader)
            self._bytes_read = (
                self._done_before + self._raw.tell()
                if self._raw is not None
                else self._bytes_read + len(data)
            )
            if data:
                return self._decoder.feed(data)
            self._close_part()
        return None

    def close(self) -> None:
        self._close_part()
        self._finished = True

    def _open_next(self) -> bool:
        if self._next_part >= len(self.stream.parts):
            return False
        part = self.stream.parts[self._next_part]
        if self._next_part > 0:
            self._decoder.start_file(part)
        self._next_part += 1
        if part == STDIN:
            self._raw = None
            self._reader = sys.stdin.buffer
            return True
        try:
            raw: IO[bytes] = open(part, "rb")  # noqa: SIM115 -- closed in _close_part
        except OSError as exc:
            raise ReplaySourceError(f"{part}: {exc.strerror}") from exc
        self._raw = raw
        self._reader = (
            cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if part.endswith(".gz") else raw
        )
        return True

    def _read_lines(self, reader: IO[bytes]) -> bytes:
        """About ``chunk_bytes`` of whole lines; a last line without newline gets one."""
        try:
            data = reader.read(self._chunk_bytes)
            if data and not data.endswith(b"\n"):
                tail = reader.readline(self._max_line)
                data += tail
                if not tail.endswith(b"\n"):
                    # Either the file ends without a newline, or the line is too long: keep
                    # only its head (rejected downstream by length) and skip the rest.
                    while tail and not tail.endswith(b"\n"):
                        tail = reader.readline(self._max_line)
                    data += b"\n"
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ReplaySourceError(f"{self._current_part()}: {exc}") from exc
        return data

    def _current_part(self) -> str:
        return self.stream.parts[self._next_part - 1]

    def _close_part(self) -> None:
        if self._raw is not None and not self._raw.closed:
            self._done_before += self._raw.tell()
        if self._reader is not None and self._reader is not sys.stdin.buffer:
            self._reader.close()
        if self._raw is not None:
            self._raw.close()
        self._raw = None
        self._reader = None
