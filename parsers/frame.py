"""Records (row objects) <-> record batches (polars DataFrames with ``RECORD_SCHEMA``)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from parsers.record import RECORD_SCHEMA, Record


def records_frame(records: Sequence[Record]) -> pl.DataFrame:
    """A batch holding ``records`` in order, with exactly the ``RECORD_SCHEMA`` columns."""
    columns = {
        name: [
            list(value) if isinstance(value, tuple) else value
            for value in (getattr(record, name) for record in records)
        ]
        for name in RECORD_SCHEMA
    }
    return pl.DataFrame(columns, schema=RECORD_SCHEMA)


def frame_records(frame: pl.DataFrame) -> list[Record]:
    """The rows of a batch as records (tests and small tools; not for the hot path)."""
    return [Record.from_row(row) for row in frame.select(list(RECORD_SCHEMA)).iter_rows(named=True)]
