"""The one record pipeline: parsed chunks in, record batches and watermarks out to the stages.

Replay, the live daemon and the Kafka analyzer all drive this same object, so they share
semantics: the same counting, the same event-time watermark, the same flush contract.

Event time: the watermark is ``max(ts seen) - allowed_lateness`` and never goes backwards.
Records older than the watermark are still forwarded (stages decide what lateness means to
them); the watermark only tells stages which windows may close. While live input is quiet,
``tick`` lets the wall clock push the watermark on so windows still close.

Failure modes: a stage that raises in ``on_records``/``on_watermark`` propagates to the caller
(the batch is then only partly applied: callers must not checkpoint past it). ``flush``
raises if any stage's flush raises; the caller must then not checkpoint or commit.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

import polars as pl

from logwatch.clock import Clock
from logwatch.pipeline.stages import MalformedStage, RecordStage
from rules.model import malformed_frame

if TYPE_CHECKING:
    from logwatch.daemon_stats import DaemonStats

log = logging.getLogger(__name__)

# At end of input the watermark jumps this far past the latest event, so every window any
# stage keeps (rule windows, `for` durations, correlation timeouts) closes, without the
# overflow a datetime.max would cause in stages that add to the watermark.
END_OF_INPUT_HORIZON = timedelta(days=1)


class Rejection(Protocol):
    """A malformed line as the parsers report it (``parsers.Rejection``)."""

    @property
    def file(self) -> str | None: ...
    @property
    def lineno(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...


class ParsedBatch(Protocol):
    """What the pipeline consumes: a ``parsers.ParsedChunk`` or anything shaped like it."""

    @property
    def records(self) -> pl.DataFrame: ...
    @property
    def lines(self) -> int: ...
    @property
    def ignored(self) -> int: ...
    @property
    def rejections(self) -> Sequence[Rejection]: ...


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """Counts since the pipeline was built. ``records`` are parsed records; ``selected`` are
    those that passed the pipeline's record selection and reached the stages."""

    lines: int = 0
    records: int = 0
    selected: int = 0
    ignored: int = 0
    malformed_by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def malformed(self) -> int:
        return sum(self.malformed_by_reason.values())


class RejectionLog:
    """Logs malformed lines with file, line and reason, at most ``burst`` per ``interval``
    seconds of ``clock.monotonic()``; the number suppressed is logged when logging resumes,
    so a flood of garbage cannot flood the log, yet nothing is dropped silently."""

    def __init__(self, clock: Clock, *, burst: int = 20, interval: float = 10.0) -> None:
        self._clock = clock
        self._burst = burst
        self._interval = interval
        self._window_start = clock.monotonic()
        self._logged = 0
        self._suppressed = 0

    def log(self, rejection: Rejection) -> None:
        now = self._clock.monotonic()
        if now - self._window_start >= self._interval:
            if self._suppressed:
                log.warning("%d more malformed lines not shown", self._suppressed)
            self._window_start, self._logged, self._suppressed = now, 0, 0
        if self._logged >= self._burst:
            self._suppressed += 1
            return
        self._logged += 1
        log.warning(
            "malformed line %s:%d: %s%s",
            rejection.file or "-",
            rejection.lineno,
            rejection.reason,
            f" ({rejection.detail})" if rejection.detail else "",
        )

    def close(self) -> None:
        """Report what is still suppressed (idempotent)."""
        if self._suppressed:
            log.warning("%d more malformed lines not shown", self._suppressed)
            self._suppressed = 0


class Pipeline:
    """Counts parsed chunks and feeds their records, then the watermark, to each stage in order.

    ``select`` (optional polars expression over RECORD_SCHEMA) keeps only matching records for
    the stages (replay filters); counting and the watermark still see every record, so event
    time advances the same with or without a selection. ``daemon_stats``, when given, receives
    the same counts as ``stats`` for the health exporter.
    """

    def __init__(
        self,
        stages: Sequence[RecordStage],
        *,
        clock: Clock,
        allowed_lateness: timedelta = timedelta(seconds=5),
        select: pl.Expr | None = None,
        daemon_stats: DaemonStats | None = None,
    ) -> None:
        if allowed_lateness < timedelta(0):
            raise ValueError("allowed_lateness must not be negative")
        self._stages = tuple(stages)
        self._clock = clock
        self._lateness = allowed_lateness
        self._select = select
        self._daemon_stats = daemon_stats
        self._rejection_log = RejectionLog(clock)
        self._lines = 0
        self._records = 0
        self._selected = 0
        self._ignored = 0
        self._malformed: Counter[str] = Counter()
        self._max_event_time: datetime | None = None
        self._watermark: datetime | None = None

    @property
    def stats(self) -> PipelineStats:
        return PipelineStats(
            lines=self._lines,
            records=self._records,
            selected=self._selected,
            ignored=self._ignored,
            malformed_by_reason=MappingProxyType(dict(self._malformed)),
        )

    @property
    def watermark(self) -> datetime | None:
        """The last watermark given to the stages (None before the first)."""
        return self._watermark

    @property
    def max_event_time(self) -> datetime | None:
        """The latest event time seen in any record (None before the first)."""
        return self._max_event_time

    def process(self, chunk: ParsedBatch) -> None:
        """Count ``chunk``, hand its (selected) records to every stage, advance the watermark."""
        records = chunk.records
        self._count(chunk)
        if records.height:
            latest = records.get_column("ts").max()
            if isinstance(latest, datetime) and (
                self._max_event_time is None or latest > self._max_event_time
            ):
                self._max_event_time = latest
            selected = records if self._select is None else records.filter(self._select)
            self._selected += selected.height
            if selected.height:
                for stage in self._stages:
                    stage.on_records(selected)
        if chunk.rejections:
            self._report_malformed(chunk.rejections)
        if self._max_event_time is not None:
            self._advance(self._max_event_time - self._lateness)

    def _report_malformed(self, rejections: Sequence[Rejection]) -> None:
        """Rejection counts by (file, reason) to the stages that alert on them, stamped with
        the latest event time so they are not late for the next watermark."""
        receivers = [stage for stage in self._stages if isinstance(stage, MalformedStage)]
        if not receivers:
            return
        counts = Counter((rejection.file or "-", rejection.reason) for rejection in rejections)
        frame = malformed_frame(counts, self._max_event_time or self._clock.now())
        for stage in receivers:
            stage.on_malformed(frame)

    def tick(self) -> None:
        """Live input is idle: let wall-clock time move the watermark on (never backwards)."""
        self._advance(self._clock.now() - self._lateness)

    def flush(self) -> None:
        """Every stage's ``flush`` in order. Raises the first failure after trying them all,
        so one broken sink does not keep the others from making their effects durable; the
        caller must then not checkpoint."""
        first_error: BaseException | None = None
        for stage in self._stages:
            try:
                stage.flush()
            except Exception as exc:  # each stage gets its chance to flush
                log.error("flush of %s failed: %s", type(stage).__name__, exc)
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error

    def finish(self) -> None:
        """End of input (replay): a final watermark past every event, then ``flush``."""
        self._rejection_log.close()
        if self._max_event_time is not None:
            self._advance(self._max_event_time + END_OF_INPUT_HORIZON)
        self.flush()

    def _advance(self, candidate: datetime) -> None:
        if self._watermark is not None and candidate <= self._watermark:
            return
        self._watermark = candidate
        for stage in self._stages:
            stage.on_watermark(candidate)

    def _count(self, chunk: ParsedBatch) -> None:
        records = chunk.records.height
        self._lines += chunk.lines
        self._records += records
        self._ignored += chunk.ignored
        for rejection in chunk.rejections:
            self._malformed[rejection.reason] += 1
            self._rejection_log.log(rejection)
        stats = self._daemon_stats
        if stats is not None:
            stats.lines += chunk.lines
            stats.records += records
            stats.ignored += chunk.ignored
            stats.malformed_by_reason.update(r.reason for r in chunk.rejections)
