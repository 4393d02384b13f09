"""Shared pieces of the column-wise parsers: context, output shape, per-distinct lookups."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

from parsers.k8s_path import PodMeta
from parsers.options import ParseOptions
from parsers.record import RECORD_SCHEMA

ORDER = "__order"  # absolute line number, to interleave batch and per-line records
NULL_KEY = "\x00"  # join key for null values (NUL never reaches the batch path)
UTC_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z$"
DIGITS = r"^[0-9]{1,18}$"  # what the per-line path accepts as an integer (fits Int64)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
# TIME_FORMAT for times of one width (by UTC_TIME: 0, 3, 6 or 9 fraction digits): the same
# values for UTC_TIME times, parsed about three times faster than with ``%.f``.
_FIXED_WIDTH_TIME_FORMATS = {
    20: "%Y-%m-%dT%H:%M:%SZ",
    24: "%Y-%m-%dT%H:%M:%S.%3fZ",
    27: "%Y-%m-%dT%H:%M:%S.%6fZ",
    30: "%Y-%m-%dT%H:%M:%S.%9fZ",
}


@dataclass(frozen=True)
class ColumnContext:
    """Where the lines of a chunk come from."""

    first_lineno: int
    file: str | None
    meta: PodMeta | None
    options: ParseOptions


_helper: tuple[int, ThreadPoolExecutor] | None = None


def helper() -> ThreadPoolExecutor:
    """Threads for independent column-wise work of a chunk (polars releases the GIL).

    Tasks never wait on other tasks, so a small shared pool cannot deadlock. One pool per
    process: a forked child does not inherit the parent's threads.
    """
    global _helper
    pid = os.getpid()
    if _helper is None or _helper[0] != pid:
        _helper = (pid, ThreadPoolExecutor(max_workers=2, thread_name_prefix="parsers-columns"))
    return _helper[1]


def utc_timestamps(times: pl.Series) -> pl.Expr:
    """The instant of each of ``times`` (a column of that name), for times of the ``UTC_TIME``
    form; other rows are for the caller to reject."""
    lengths = times.str.len_bytes()
    width = lengths.min()
    time_format = TIME_FORMAT
    if isinstance(width, int) and width == lengths.max():
        time_format = _FIXED_WIDTH_TIME_FORMATS.get(width, TIME_FORMAT)
    return pl.col(times.name).str.to_datetime(
        time_format, time_unit="us", time_zone="UTC", strict=False
    )


def base_columns(part: pl.DataFrame, ctx: ColumnContext) -> dict[str, pl.Expr]:
    meta = ctx.meta
    return {
        "file": pl.lit(ctx.file, dtype=pl.String),
        "lineno": pl.col("idx") + ctx.first_lineno,
        "pod": pl.lit(meta.pod if meta else None, dtype=pl.String),
        "namespace": pl.lit(meta.namespace if meta else None, dtype=pl.String),
        "container": pl.lit(meta.container if meta else None, dtype=pl.String),
        ORDER: pl.col("idx") + ctx.first_lineno,
    }


def finish(frame: pl.DataFrame, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """Select RECORD_SCHEMA columns (nulls for the ones not given) + ORDER, typed."""
    exprs = [
        (columns[name] if name in columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in {**RECORD_SCHEMA, ORDER: pl.Int64()}.items()
    ]
    return frame.select(exprs)


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema={**RECORD_SCHEMA, ORDER: pl.Int64()})


def lookup(
    frame: pl.DataFrame,
    keys: list[str],
    table: dict[tuple[Any, ...], dict[str, Any]],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Join per-distinct-key results (computed in Python) onto ``frame``; nulls as NULL_KEY."""
    rows = [dict(zip(keys, key, strict=True)) | values for key, values in table.items()]
    lookup = pl.DataFrame(rows, schema={**dict.fromkeys(keys, pl.String()), **schema})
    # Only the keys take part in the join (the table has one row per key, so the result is
    # aligned with ``frame``): joining the whole frame would copy every one of its columns.
    keyed = frame.select(pl.col(k).fill_null(NULL_KEY).alias(f"__k{i}") for i, k in enumerate(keys))
    lookup = lookup.rename({k: f"__k{i}" for i, k in enumerate(keys)})
    joined = keyed.join(
        lookup, on=[f"__k{i}" for i in range(len(keys))], how="left", maintain_order="left"
    )
    return frame.hstack(joined.select(list(schema)).get_columns())


def distinct(frame: pl.DataFrame, keys: list[str]) -> list[tuple[Any, ...]]:
    return list(frame.select(pl.col(k).fill_null(NULL_KEY) for k in keys).unique().iter_rows())


def none_if_null_key(value: Any) -> Any:
    return None if value == NULL_KEY else value
