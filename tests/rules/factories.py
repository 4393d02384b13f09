"""Scripted record batches for rule tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from parsers.record import RECORD_SCHEMA

T0 = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def batch(*rows: dict[str, Any]) -> pl.DataFrame:
    """Records with every column; ``t`` (seconds after T0) sets ``ts``."""
    full = []
    for row in rows:
        record: dict[str, Any] = {k: None for k in RECORD_SCHEMA}
        record["signals"] = []
        record["kind"] = "envoy"
        for key, value in row.items():
            if key == "t":
                record["ts"] = at(value)
            else:
                record[key] = value
        full.append(record)
    return pl.DataFrame(full, schema=RECORD_SCHEMA)


def rl(t: float, route: str = "r1", **extra: Any) -> dict[str, Any]:
    return {"t": t, "signals": ["rate_limited"], "route_name": route, "response_code": 429, **extra}
