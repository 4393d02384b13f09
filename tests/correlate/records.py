"""Hand-made record batches (RECORD_SCHEMA) for focused correlation tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from parsers.record import RECORD_SCHEMA, Record

T0 = datetime(2025, 7, 18, 3, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def envoy(seconds: float, request_id: str | None, **fields: Any) -> Record:
    base: dict[str, Any] = {
        "kind": "envoy",
        "format": "envoy-json",
        "time": at(seconds).isoformat(),
        "ts": at(seconds),
        "file": "ingress.log",
        "lineno": 1,
        "role": "ingress",
        "request_id": request_id,
        "response_code": 200,
        "response_flags": (),
        "duration_ms": 5,
        "signals": (),
    }
    base.update(fields)
    return Record(**base)


def ztunnel(seconds: float, **fields: Any) -> Record:
    base: dict[str, Any] = {
        "kind": "ztunnel",
        "format": "ztunnel-text",
        "time": at(seconds).isoformat(),
        "ts": at(seconds),
        "file": "ztunnel.log",
        "lineno": 1,
        "role": "ztunnel",
        "message": "connection complete",
        "direction": "outbound",
        "duration_ms": 0,
        "signals": (),
    }
    base.update(fields)
    return Record(**base)


def batch(records: list[Record]) -> pl.DataFrame:
    rows = []
    for record in records:
        row = {key: getattr(record, key) for key in RECORD_SCHEMA}
        rows.append({k: list(v) if isinstance(v, tuple) else v for k, v in row.items()})
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)
