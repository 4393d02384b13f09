"""The Pipeline: counting, stage order, event-time watermark, flush and finish."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from logwatch.clock import ManualClock
from logwatch.daemon_stats import DaemonStats
from logwatch.pipeline.pipeline import END_OF_INPUT_HORIZON, Pipeline
from parsers import ParsedChunk, Record, Rejection, records_frame

T0 = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)


def envoy(seconds: float, route: str = "r1") -> Record:
    ts = T0 + timedelta(seconds=seconds)
    return Record(kind="envoy", format="envoy-json", time=ts.isoformat(), ts=ts, route_name=route)


def chunk(
    *records: Record,
    lines: int | None = None,
    ignored: int = 0,
    rejections: tuple[Rejection, ...] = (),
) -> ParsedChunk:
    count = len(records) + ignored + len(rejections)
    return ParsedChunk(
        records_frame(list(records)), count if lines is None else lines, ignored, rejections
    )


@dataclass
class Recorder:
    """A stage that writes down what it was given, in a log shared with other stages."""

    name: str
    log: list[tuple[str, str, object]]
    fail_flush: bool = False
    heights: list[int] = field(default_factory=list)

    def on_records(self, records: pl.DataFrame) -> None:
        self.heights.append(records.height)
        self.log.append((self.name, "records", records.height))

    def on_watermark(self, watermark: datetime) -> None:
        self.log.append((self.name, "watermark", watermark))

    def flush(self) -> None:
        self.log.append((self.name, "flush", None))
        if self.fail_flush:
            raise RuntimeError(f"{self.name} cannot flush")


def test_counts_and_forwards_records_to_every_stage_in_order() -> None:
    log: list[tuple[str, str, object]] = []
    first, second = Recorder("first", log), Recorder("second", log)
    stats = DaemonStats()
    pipeline = Pipeline([first, second], clock=ManualClock(T0), daemon_stats=stats)
    bad = Rejection("a.log", 3, "bad-json", "{")
    pipeline.process(chunk(envoy(1), envoy(2), ignored=2, rejections=(bad, bad)))
    assert log[:2] == [("first", "records", 2), ("second", "records", 2)]
    assert pipeline.stats.lines == 6
    assert pipeline.stats.records == 2
    assert pipeline.stats.ignored == 2
    assert dict(pipeline.stats.malformed_by_reason) == {"bad-json": 2}
    assert pipeline.stats.malformed == 2
    assert (stats.lines, stats.records, stats.ignored) == (6, 2, 2)
    assert stats.malformed_by_reason == {"bad-json": 2}


def test_empty_batches_are_not_forwarded_but_counted() -> None:
    log: list[tuple[str, str, object]] = []
    stage = Recorder("only", log)
    pipeline = Pipeline([stage], clock=ManualClock(T0))
    pipeline.process(chunk(ignored=5))
    assert stage.heights == []
    assert pipeline.stats.ignored == 5 and pipeline.stats.lines == 5


def test_watermark_is_latest_event_minus_lateness_and_never_goes_back() -> None:
    log: list[tuple[str, str, object]] = []
    stage = Recorder("s", log)
    pipeline = Pipeline([stage], clock=ManualClock(T0), allowed_lateness=timedelta(seconds=5))
    pipeline.process(chunk(envoy(30), envoy(10)))
    assert pipeline.watermark == T0 + timedelta(seconds=25)
    pipeline.process(chunk(envoy(20)))  # late record: forwarded, watermark unchanged
    pipeline.process(chunk(envoy(28)))
    watermarks = [entry[2] for entry in log if entry[1] == "watermark"]
    assert watermarks == [T0 + timedelta(seconds=25)]
    assert stage.heights == [2, 1, 1]
    pipeline.process(chunk(envoy(40)))
    assert pipeline.watermark == T0 + timedelta(seconds=35)


def test_tick_advances_the_watermark_with_the_clock_while_input_is_idle() -> None:
    log: list[tuple[str, str, object]] = []
    clock = ManualClock(T0 + timedelta(seconds=100))
    pipeline = Pipeline([Recorder("s", log)], clock=clock, allowed_lateness=timedelta(seconds=5))
    pipeline.process(chunk(envoy(90)))
    assert pipeline.watermark == T0 + timedelta(seconds=85)
    pipeline.tick()
    assert pipeline.watermark == T0 + timedelta(seconds=95)
    clock.advance(10)
    pipeline.tick()
    assert pipeline.watermark == T0 + timedelta(seconds=105)
    pipeline.process(chunk(envoy(91)))  # events behind the wall clock do not pull it back
    assert pipeline.watermark == T0 + timedelta(seconds=105)


def test_flush_tries_every_stage_then_raises_the_first_failure() -> None:
    log: list[tuple[str, str, object]] = []
    stages = [Recorder("a", log, fail_flush=True), Recorder("b", log)]
    pipeline = Pipeline(stages, clock=ManualClock(T0))
    with pytest.raises(RuntimeError, match="a cannot flush"):
        pipeline.flush()
    assert [entry[0] for entry in log if entry[1] == "flush"] == ["a", "b"]


def test_finish_closes_every_window_then_flushes() -> None:
    log: list[tuple[str, str, object]] = []
    pipeline = Pipeline([Recorder("s", log)], clock=ManualClock(T0))
    pipeline.process(chunk(envoy(60)))
    pipeline.finish()
    assert log[-2] == ("s", "watermark", T0 + timedelta(seconds=60) + END_OF_INPUT_HORIZON)
    assert log[-1] == ("s", "flush", None)


def test_selection_limits_what_stages_see_but_not_counting_or_event_time() -> None:
    log: list[tuple[str, str, object]] = []
    stage = Recorder("s", log)
    pipeline = Pipeline(
        [stage],
        clock=ManualClock(T0),
        select=pl.col("route_name") == "keep",
        allowed_lateness=timedelta(0),
    )
    pipeline.process(chunk(envoy(1, "keep"), envoy(50, "drop"), envoy(2, "keep")))
    assert stage.heights == [2]
    assert pipeline.stats.records == 3 and pipeline.stats.selected == 2
    assert pipeline.watermark == T0 + timedelta(seconds=50)


def test_rejections_are_logged_with_place_and_reason_and_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(T0)
    pipeline = Pipeline([], clock=clock)
    bad = tuple(Rejection("x.log", n, "unknown-format", "garbage") for n in range(1, 51))
    with caplog.at_level(logging.WARNING, logger="logwatch.pipeline.pipeline"):
        pipeline.process(chunk(rejections=bad))
        clock.advance(11)
        pipeline.process(chunk(rejections=bad[:1]))
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "malformed line x.log:1: unknown-format (garbage)"
    assert sum(m.startswith("malformed line ") for m in messages) == 21  # 20 per 10 s, then 1 after
    assert "30 more malformed lines not shown" in messages
    assert pipeline.stats.malformed_by_reason == {"unknown-format": 51}


def test_negative_lateness_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed_lateness"):
        Pipeline([], clock=ManualClock(T0), allowed_lateness=timedelta(seconds=-1))
