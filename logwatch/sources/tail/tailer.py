"""The file source: discovers files, reads them round-robin on one asyncio loop, hands on
whole-line chunks with backpressure.

No thread per file: every follower is read with ``os.pread`` in bounded chunks from the loop
(regular files in the page cache do not block meaningfully), one chunk per follower per pass
so a busy file cannot starve the others. ``emit`` is awaited for every chunk, so a full
downstream queue stops reading (backpressure) instead of buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping

from logwatch.checkpoint import FilePosition
from logwatch.config import SourcesConfig
from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk, FileIdentity
from logwatch.sources.tail.discovery import discover
from logwatch.sources.tail.follower import Follower
from logwatch.sources.tail.openfile import OpenFile, ReadLimits
from logwatch.sources.tail.resume import open_resumed

log = logging.getLogger("logwatch.tail")

Emit = Callable[[FileChunk], Awaitable[None]]


class Tailer:
    """Follows the files selected by a SourcesConfig, resuming from checkpointed positions.

    Guarantees: per logical file, chunks are emitted in file order, each holding whole lines,
    with no gap except bytes counted as lost (``DaemonStats.lost_bytes``: a checkpointed file
    gone at restart, data overwritten by a truncation before it was read, or an unterminated
    last line of a rotated file). A ``closed`` chunk ends a logical file that was deleted or
    deselected. Stopping does not close logical files: their positions stay checkpointable.
    """

    def __init__(
        self,
        sources: SourcesConfig,
        *,
        max_line_bytes: int,
        stats: DaemonStats,
        resume: Mapping[str, FilePosition] | None = None,
    ) -> None:
        self._sources = sources
        self._limits = ReadLimits(sources.read_chunk_bytes, max_line_bytes)
        self._stats = stats
        self._resume = dict(resume or {})
        self._followers: dict[str, Follower] = {}
        self.started = False  # the first discovery ran (readiness)

    def reconfigure(self, sources: SourcesConfig) -> None:
        """Use new globs and selectors from the next discovery on."""
        self._sources = sources
        self._limits = ReadLimits(sources.read_chunk_bytes, self._limits.max_line_bytes)

    @property
    def keys(self) -> list[str]:
        return sorted(self._followers)

    async def run(self, emit: Emit, stop: asyncio.Event, *, once: bool = False) -> None:
        """Read until ``stop`` is set, or with ``once`` until everything there was read."""
        watcher = asyncio.create_task(self._watch_rotations(stop))
        try:
            await self._read_loop(emit, stop, once=once)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch_rotations(self, stop: asyncio.Event) -> None:
        """Look for rotations even while reading waits on a full queue (backpressure): the
        new file is opened at once, so a rotated file deleted later is still read."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._sources.poll_interval_s)
            for follower in list(self._followers.values()):
                follower.check_path(self._stats)

    async def _read_loop(self, emit: Emit, stop: asyncio.Event, *, once: bool) -> None:
        next_discovery = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_discovery:
                for announcement in self._discover():
                    await emit(announcement)
                next_discovery = time.monotonic() + self._sources.poll_interval_s
            progressed = False
            for follower in list(self._followers.values()):
                if stop.is_set():
                    break
                chunk = follower.read(self._limits, self._stats, eager=once)
                if chunk is not None:
                    progressed = True
                    await emit(chunk)
                elif follower.finished(eager=once):
                    await emit(self._close(follower, "deleted"))
            self._update_lag()
            if progressed:
                await asyncio.sleep(0)  # let the consumer and health checks run
            elif once:
                return
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._sources.poll_interval_s)

    def _discover(self) -> list[FileChunk]:
        """Start and stop followers; returns the chunks announcing that (opened, closed)."""
        keys = discover(self._sources)
        announcements: list[FileChunk] = []
        for key in keys:
            follower = self._followers.get(key)
            if follower is None:
                opened = self._start(key)
                if opened is not None:
                    announcements.append(opened)
            else:
                follower.check_path(self._stats)
        present = set(keys)
        for key, follower in list(self._followers.items()):
            if key in present:
                continue
            if os.path.exists(key):
                announcements.append(self._close(follower, "no longer selected"))
            else:
                follower.check_path(self._stats)  # marks it missing
        if not self.started:
            self.started = True
            announcements.extend(self._leftover_positions())
        self._stats.files_followed = len(self._followers)
        return announcements

    def _leftover_positions(self) -> list[FileChunk]:
        """Checkpointed files whose key the globs did not list. A key that is gone (rotated
        away and not yet recreated, or its pod deleted) still has its rotated file read to the
        end; a key that exists but is no longer selected is forgotten."""
        announcements: list[FileChunk] = []
        for position in list(self._resume.values()):
            if not os.path.exists(position.key):
                opened = self._start(position.key)
                if opened is not None:
                    announcements.append(opened)
                    continue
            log.info(
                "checkpointed file no longer followed",
                extra={
                    "key": position.key,
                    "unread_bytes": max(0, position.size - position.offset),
                },
            )
            announcements.append(_forget(position))
        self._resume.clear()
        return announcements

    def _start(self, key: str) -> FileChunk | None:
        """Follow ``key``; the returned empty chunk carries the starting position, so the
        file's position is checkpointed even before new lines arrive."""
        position = self._resume.pop(key, None)
        files: list[OpenFile]
        if position is not None:
            files = open_resumed(position, self._stats)
        else:
            try:
                files = [OpenFile.open(key)]
            except OSError as exc:
                log.warning("cannot open file", extra={"path": key, "error": str(exc)})
                return None
        if not files:
            return None
        self._followers[key] = Follower(key, files, self._sources.deleted_grace_s)
        first = files[0]
        log.info(
            "following file",
            extra={"path": key, "offset": first.offset, "resumed": position is not None},
        )
        return first.announce(key)

    def _close(self, follower: Follower, why: str) -> FileChunk:
        current = follower.current
        chunk = FileChunk(
            key=follower.key,
            identity=current.identity(),
            data=b"",
            start_offset=current.offset,
            start_lineno=current.lineno,
            lines=0,
            closed=True,
            file_size=current.size,
        )
        follower.close()
        del self._followers[follower.key]
        self._stats.lag_bytes.pop(follower.key, None)
        self._stats.files_followed = len(self._followers)
        log.info("stopped following file", extra={"path": follower.key, "reason": why})
        return chunk

    def _update_lag(self) -> None:
        lag = self._stats.lag_bytes
        for key, follower in self._followers.items():
            lag[key] = follower.lag_bytes()

    def close(self) -> None:
        """Release every open file (idempotent)."""
        for follower in self._followers.values():
            follower.close()
        self._followers.clear()


def _forget(position: FilePosition) -> FileChunk:
    """The closed chunk that drops a checkpointed file nobody follows any more."""
    return FileChunk(
        key=position.key,
        identity=FileIdentity(position.path, position.dev, position.ino, position.fingerprint),
        data=b"",
        start_offset=position.offset,
        start_lineno=position.lineno,
        lines=0,
        closed=True,
        file_size=position.size,
    )
