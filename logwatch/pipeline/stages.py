"""The contracts between pipeline stages.

Data flows source -> parse -> correlate -> (metrics, rules -> alerts -> notify). Every stage
works on record batches (polars DataFrames with ``parsers.record.RECORD_SCHEMA``) in **event
time**: the pipeline tells stages how far event time has progressed with a watermark, so
replay (time from the logs) and live (the same, plus idle ticks from the wall clock) agree.

Durability: ``flush`` must leave every effect of the batches seen so far durable (metrics
recorded, rule state saved, notifications in the outbox). The pipeline calls it before it
writes a checkpoint or commits an offset; a flush that raises means nothing is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import polars as pl


class RecordStage(Protocol):
    """A consumer of record batches."""

    def on_records(self, records: pl.DataFrame) -> None:
        """Take one batch. Must not block on the network; may buffer."""
        ...

    def on_watermark(self, watermark: datetime) -> None:
        """Event time has reached ``watermark``: windows ending before it may close."""
        ...

    def flush(self) -> None:
        """Make the effects of everything seen so far durable (see module docstring)."""
        ...


@runtime_checkable
class MalformedStage(Protocol):
    """A stage that also counts rejected lines (the alert stage's ``source: malformed``
    rules). Frames have ``rules.model.MALFORMED_SCHEMA``: ts, file, reason, count."""

    def on_malformed(self, rejections: pl.DataFrame) -> None: ...
