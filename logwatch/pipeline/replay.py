"""`logwatch replay` as a function: saved logs in, an incident report out.

Runs the same Pipeline as the daemon, in event time: a ManualClock follows the latest event
time read, so stages that consult the clock see the time of the logs, not of the replay.
Streams are merged by event time (``logwatch.sources.merge``), read and parsed ahead on a
worker thread (``logwatch.sources.prefetch``) while the stages run. Request paths are drained
from the correlator after every chunk and written to ``paths_out`` (NDJSON) as they complete,
so finished paths are never held to the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

import orjson
import polars as pl

from logwatch.clock import ManualClock
from logwatch.config import Config
from logwatch.pipeline.build import build_stages
from logwatch.pipeline.pipeline import Pipeline
from logwatch.report.aggregate import ReportStage
from logwatch.report.model import InputTotals, Report
from logwatch.sources.files import StreamReader, discover_streams, stream_sizes
from logwatch.sources.merge import merge_by_event_time
from logwatch.sources.prefetch import prefetch

if TYPE_CHECKING:
    from logwatch.correlate.path import RequestPath

# Bytes of input buffered across all streams at once; each stream reads a share of it, so
# many small pod logs do not multiply memory, and one big file reads in large chunks.
READ_BUDGET_BYTES = 64 << 20
MIN_CHUNK_BYTES = 256 << 10
MAX_CHUNK_BYTES = 8 << 20


class NoInput(ValueError):
    """The given paths hold no file to replay."""


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    bytes_read: int
    bytes_total: int  # 0 when unknown (stdin)


def replay(
    paths: Sequence[str],
    *,
    config: Config,
    select: pl.Expr | None = None,
    paths_out: IO[bytes] | None = None,
    on_progress: Callable[[ReplayProgress], None] | None = None,
) -> Report:
    """Replay ``paths`` (files, directories, ``-``) and return the report.

    Raises ReplaySourceError (missing/unreadable input), NoInput (nothing to read).
    """
    from parsers import ParseOptions

    streams = discover_streams(paths)
    if not streams:
        raise NoInput(f"no files to replay under {', '.join(paths)}")
    options = ParseOptions(
        max_line_bytes=config.parse.max_line_bytes,
        envoy_text_formats=tuple(config.parse.envoy_text_formats),
    )
    chunk_bytes = max(MIN_CHUNK_BYTES, min(MAX_CHUNK_BYTES, READ_BUDGET_BYTES // len(streams)))
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    report_stage = ReportStage()
    stages = build_stages(config, clock=clock, report=report_stage)
    pipeline = Pipeline(stages.all, clock=clock, select=select)
    if stages.correlator is not None:
        # Nothing waits on a path in wall time: larger steps cost less.
        stages.correlator.step_by_volume()
        if paths_out is None:
            # Nobody reads the paths: the correlator keeps only what alert samples look up.
            stages.correlator.keep_recent_only()
    total = stream_sizes(streams)
    readers = [StreamReader(s, options=options, chunk_bytes=chunk_bytes) for s in streams]
    try:
        with closing(prefetch(merge_by_event_time(readers))) as chunks:
            for chunk in chunks:
                pipeline.process(chunk)
                if pipeline.max_event_time is not None:
                    clock.set(pipeline.max_event_time)
                if stages.correlator is not None and paths_out is not None:
                    # Path objects are built only when asked for (see keep_recent_only above).
                    _write_paths(paths_out, stages.correlator.drain_paths())
                if on_progress is not None:
                    on_progress(ReplayProgress(sum(r.bytes_read for r in readers), total))
    finally:
        for reader in readers:
            reader.close()
    pipeline.finish()
    hops = None
    if stages.correlator is not None:
        if paths_out is not None:
            _write_paths(paths_out, stages.correlator.finish())
        else:
            stages.correlator.finalize_all()
        hops = stages.correlator.summary()
    stats = pipeline.stats
    inputs = InputTotals(
        files=sum(len(s.parts) for s in streams),
        lines=stats.lines,
        records=stats.records,
        ignored=stats.ignored,
        malformed=stats.malformed,
    )
    alerts = stages.alerts.report() if stages.alerts is not None else None
    return report_stage.report(inputs, hops=hops, alerts=alerts)


def _write_paths(out: IO[bytes], paths: Sequence[RequestPath]) -> None:
    for path in paths:
        out.write(orjson.dumps(path.to_json()) + b"\n")
