"""Merging several replay streams into one sequence of chunks ordered by event time.

Each stream is (nearly) ordered by event time; streams cover overlapping time spans. The
merge is a k-way merge over batches: every stream has a *frontier* (the latest event time read
from it so far). Records at or before the smallest frontier of the streams still being read
can no longer be preceded by anything unread, so they are emitted, sorted by ``ts``. The
stream with the smallest frontier is read next, which keeps each stream's buffer to about one
chunk: memory is bounded by (number of streams x chunk size), not by input size.

Records a stream writes out of order (Envoy stamps a request's *start* but logs at its end)
may come out slightly late; that is what the pipeline's allowed lateness absorbs. Records
without an event time are emitted at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from parsers.record import empty_batch

if TYPE_CHECKING:
    from logwatch.pipeline.pipeline import Rejection
    from logwatch.sources.files import StreamReader

_BEFORE_EVERYTHING = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MergedChunk:
    """Records from several streams in event-time order, with the line counts of the reads
    that produced them (a ``ParsedChunk`` look-alike for ``Pipeline.process``)."""

    records: pl.DataFrame
    lines: int = 0
    ignored: int = 0
    rejections: tuple[Rejection, ...] = field(default=())


@dataclass
class _Buffered:
    records: pl.DataFrame | None = None


def merge_by_event_time(readers: Sequence[StreamReader]) -> Iterator[MergedChunk]:
    """Chunks of all ``readers`` merged by ``ts``; each reader is read to its end.

    The caller owns the readers (and closes them). One reader is passed through as is.
    """
    if len(readers) == 1:
        while (chunk := readers[0].read()) is not None:
            yield MergedChunk(chunk.records, chunk.lines, chunk.ignored, tuple(chunk.rejections))
        return
    # (frontier, index) of the readers not yet exhausted; the smallest is read next
    to_read = [(_BEFORE_EVERYTHING, i) for i in range(len(readers))]
    buffers = [_Buffered() for _ in readers]
    # (earliest buffered ts, index) for buffers holding records
    waiting: list[tuple[datetime, int]] = []
    while to_read:
        frontier, index = heapq.heappop(to_read)
        chunk = readers[index].read()
        if chunk is None:
            safe = to_read[0][0] if to_read else None
            yield _drain(buffers, waiting, safe, 0, 0, ())
            continue
        records = chunk.records
        if records.height:
            latest = records.get_column("ts").max()
            if isinstance(latest, datetime) and latest > frontier:
                frontier = latest
            _buffer(buffers, waiting, index, records)
        heapq.heappush(to_read, (frontier, index))
        yield _drain(
            buffers, waiting, to_read[0][0], chunk.lines, chunk.ignored, tuple(chunk.rejections)
        )


def _buffer(
    buffers: list[_Buffered], waiting: list[tuple[datetime, int]], index: int, records: pl.DataFrame
) -> None:
    held = buffers[index].records
    if held is None:
        earliest = records.get_column("ts").min()
        heapq.heappush(
            waiting, (earliest if isinstance(earliest, datetime) else _BEFORE_EVERYTHING, index)
        )
        buffers[index].records = records
    else:
        buffers[index].records = pl.concat([held, records], how="vertical")


def _drain(
    buffers: list[_Buffered],
    waiting: list[tuple[datetime, int]],
    safe: datetime | None,
    lines: int,
    ignored: int,
    rejections: tuple[Rejection, ...],
) -> MergedChunk:
    """Take every buffered record at or before ``safe`` (all of them when ``safe`` is None)."""
    ready: list[pl.DataFrame] = []
    while waiting and (safe is None or waiting[0][0] <= safe):
        _, index = heapq.heappop(waiting)
        held = buffers[index].records
        assert held is not None
        if safe is None:
            ready.append(held)
            buffers[index].records = None
            continue
        due = pl.col("ts").is_null() | (pl.col("ts") <= safe)
        ready.append(held.filter(due))
        rest = held.filter(~due)
        buffers[index].records = rest if rest.height else None
        if rest.height:
            earliest = rest.get_column("ts").min()
            assert isinstance(earliest, datetime)
            heapq.heappush(waiting, (earliest, index))
    if not ready:
        return MergedChunk(empty_batch(), lines, ignored, rejections)
    merged = pl.concat(ready, how="vertical") if len(ready) > 1 else ready[0]
    return MergedChunk(merged.sort("ts", maintain_order=True), lines, ignored, rejections)
