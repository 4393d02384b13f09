"""Backtest: run rules over saved logs in event time, exactly as the daemon would.

The logs go through the same pipeline as ``logwatch replay`` (merge by event time, the same
watermark and end-of-input horizon) into an :class:`AlertStage` driven by a ManualClock, so
the alert start and end times and the notifications are those live would have produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.model import Notification
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock
from rules.model import AnyRule


@dataclass(frozen=True, slots=True)
class BacktestResult:
    alerts: list[dict[str, Any]]  # as AlertStage.report()
    notifications: list[Notification]
    lines: int
    records: int
    malformed: int


def backtest(
    paths: Sequence[str], rules: list[AnyRule], config: AlertsConfig | None = None
) -> BacktestResult:
    """Raises ``logwatch.sources.files.ReplaySourceError`` for missing/unreadable input."""
    from logwatch.pipeline.pipeline import Pipeline
    from logwatch.sources.files import StreamReader, discover_streams
    from logwatch.sources.merge import merge_by_event_time

    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    stage = AlertStage(config or AlertsConfig(), rules, clock=clock, outbox=None)
    pipeline = Pipeline([stage], clock=clock)
    readers = [StreamReader(s) for s in discover_streams(paths)]
    try:
        for chunk in merge_by_event_time(readers):
            pipeline.process(chunk)
            if pipeline.max_event_time is not None:
                clock.set(pipeline.max_event_time)
    finally:
        for reader in readers:
            reader.close()
    pipeline.finish()
    stats = pipeline.stats
    return BacktestResult(
        stage.report(), list(stage.unsent), stats.lines, stats.records, stats.malformed
    )
