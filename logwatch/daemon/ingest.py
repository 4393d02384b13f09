"""Chunks to records: one decoder per logical file, the pipeline, and the resume positions.

Runs on one worker thread at a time (the daemon awaits each call), so decoders and positions
need no locks. The position of a file is where a restart must read again: after the last line
fed to the pipeline, minus the bytes of an unfinished CRI partial sequence
(``StreamDecoder.pending_bytes``), with the line number at that point. ``commit`` makes the
pipeline's effects durable first and saves positions only if that succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from logwatch.checkpoint import CheckpointStore, FilePosition
from logwatch.daemon_stats import DaemonStats
from logwatch.pipeline.pipeline import Pipeline
from logwatch.sources.stdin import STDIN_KEY
from logwatch.sources.tail.chunk import FileChunk, FileIdentity
from parsers.options import ParseOptions
from parsers.stream import ParsedChunk, StreamDecoder

log = logging.getLogger("logwatch.daemon")


@dataclass
class _Stream:
    decoder: StreamDecoder
    identity: FileIdentity
    position: FilePosition
    # chunks of the current physical file that hold unfinished partial bytes (for line numbers)
    pending: list[FileChunk] = field(default_factory=list)


class Ingest:
    """Decodes chunks per logical file, feeds the pipeline, tracks checkpointable positions."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: ParseOptions,
        store: CheckpointStore,
        stats: DaemonStats,
        resumed: dict[str, FilePosition] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self._options = options
        self._store = store
        self._stats = stats
        self._streams: dict[str, _Stream] = {}
        # loaded positions are saved again until the source reports on their file (opened or
        # forgotten): a checkpoint taken before that must not forget them
        self._carried = dict(resumed or {})

    def process(self, chunks: Sequence[FileChunk]) -> None:
        """Decode every chunk and hand the records to the pipeline as one batch.

        Raises what a pipeline stage raises; positions then are not advanced past the batch.
        """
        parsed: list[ParsedChunk] = []
        moved: list[tuple[str, _Stream | None]] = []
        for chunk in chunks:
            stream = self._streams.get(chunk.key)
            if chunk.closed:
                if stream is not None:
                    parsed.append(stream.decoder.finish())
                moved.append((chunk.key, None))
                continue
            stream = self._feed(stream, chunk, parsed)
            moved.append((chunk.key, stream))
            self._stats.bytes += len(chunk.data)
        if parsed:
            self.pipeline.process(_combine(parsed))
        # only after the pipeline took the records do the positions move
        for key, stream in moved:
            self._carried.pop(key, None)
            if stream is None:
                self._streams.pop(key, None)
            else:
                self._streams[key] = stream

    def _feed(self, stream: _Stream | None, chunk: FileChunk, parsed: list[ParsedChunk]) -> _Stream:
        if stream is None:
            decoder = StreamDecoder(chunk.key, self._options, first_lineno=chunk.start_lineno)
            stream = _Stream(decoder, chunk.identity, _position(chunk, 0, 0))
        elif (
            chunk.new_file
            or chunk.identity.path != stream.identity.path
            or chunk.start_lineno != stream.decoder.lineno
        ):
            # rotation, truncation, or a skipped over-long line: line numbers restart there,
            # partial CRI buffers carry over
            stream.decoder.start_file(chunk.key, chunk.start_lineno)
            stream.pending.clear()
        stream.identity = chunk.identity
        parsed.append(stream.decoder.feed(chunk.data))
        stream.pending.append(chunk)
        stream.position, stream.pending = _resume_point(
            stream.pending, stream.decoder.pending_bytes
        )
        return stream

    def positions(self) -> list[FilePosition]:
        live = {key: s.position for key, s in self._streams.items() if key != STDIN_KEY}
        return [*live.values(), *(p for k, p in self._carried.items() if k not in live)]

    def commit(self) -> bool:
        """Flush the pipeline, then save positions; a failed flush commits nothing.

        Returns whether a checkpoint was written; failures are logged, never raised, so the
        daemon keeps running and tries again at the next interval.
        """
        try:
            self.pipeline.tick()
            self.pipeline.flush()
        except Exception as exc:
            log.error("pipeline flush failed; checkpoint not advanced", extra={"error": str(exc)})
            return False
        try:
            self._store.save(self.positions())
        except OSError as exc:
            log.error("cannot write checkpoint", extra={"error": str(exc)})
            return False
        self._stats.checkpoint_unix = time.time()
        return True


def _position(chunk: FileChunk, cut: int, lineno_delta: int) -> FilePosition:
    identity = chunk.identity
    return FilePosition(
        key=chunk.key,
        path=identity.path,
        dev=identity.dev,
        ino=identity.ino,
        fingerprint=identity.fingerprint,
        offset=chunk.start_offset + cut,
        lineno=chunk.start_lineno + lineno_delta,
        size=chunk.file_size,
    )


def _resume_point(chunks: list[FileChunk], pending: int) -> tuple[FilePosition, list[FileChunk]]:
    """Where ``pending`` bytes before the end of ``chunks`` begin, and the chunks still needed
    to locate a later resume point (those from that one on)."""
    newest = chunks[-1]
    if pending <= 0:
        return _position(newest, len(newest.data), newest.lines), []
    remaining = pending
    for index in range(len(chunks) - 1, -1, -1):
        chunk = chunks[index]
        if remaining <= len(chunk.data):
            cut = len(chunk.data) - remaining
            position = _position(chunk, cut, chunk.data.count(b"\n", 0, cut))
            return position, chunks[index:]
        remaining -= len(chunk.data)
    # the decoder counts more pending bytes than this file gave it: resume at its start
    return _position(chunks[0], 0, 0), chunks


def _combine(parsed: list[ParsedChunk]) -> ParsedChunk:
    if len(parsed) == 1:
        return parsed[0]
    frames = [p.records for p in parsed if p.records.height]
    records = pl.concat(frames, how="vertical", rechunk=False) if frames else parsed[0].records
    return ParsedChunk(
        records=records,
        lines=sum(p.lines for p in parsed),
        ignored=sum(p.ignored for p in parsed),
        rejections=tuple(r for p in parsed for r in p.rejections),
    )
