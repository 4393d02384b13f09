"""ztunnel text access lines, column-wise: canonical field order only (the per-line path
handles any other order, escapes, unquoted 1.22 errors)."""

from __future__ import annotations

import polars as pl

from parsers.columns import (
    DIGITS,
    UTC_TIME,
    ColumnContext,
    base_columns,
    distinct,
    finish,
    lookup,
    none_if_null_key,
    utc_timestamps,
)
from parsers.flags import ztunnel_signals
from parsers.ztunnel_errors import classify_error
from parsers.ztunnel_fields import ZTUNNEL_KEYS, ztunnel_fields
from parsers.ztunnel_record import LEVELS, ZTUNNEL_STRING_FIELDS


def ztunnel_text_columns(part: pl.DataFrame, ctx: ColumnContext) -> tuple[pl.DataFrame, pl.Series]:
    """Records for the rows of ``part`` that are ztunnel text access lines in canonical form,
    and the ``idx`` of every other row (for the per-line path)."""
    frame = part.select("idx", pl.col("content").str.splitn("\t", 5).alias("parts")).unnest("parts")
    frame = frame.rename(
        {
            "field_0": "time",
            "field_1": "level",
            "field_2": "target",
            "field_3": "message",
            "field_4": "kv",
        }
    )
    frame = ztunnel_fields(frame, "kv")
    frame = frame.with_columns(
        pl.col(k).str.strip_prefix('"').str.strip_suffix('"').alias(k) for k in ZTUNNEL_KEYS
    )
    # The field regex matched (src.addr is always logged) and the target has no span.
    valid = (
        pl.col("kv").is_not_null()
        & pl.col("src.addr").is_not_null()
        & (pl.col("target") == "access").fill_null(False)
    )
    return ztunnel_records(frame, valid, ctx, "ztunnel-text")


def ztunnel_records(
    frame: pl.DataFrame, valid: pl.Expr, ctx: ColumnContext, fmt: str
) -> tuple[pl.DataFrame, pl.Series]:
    """Records from raw ztunnel values (``time``, ``level``, ``message`` and the dotted field
    keys, unescaped) for rows where ``valid`` holds and every value is plainly valid; the
    ``idx`` of the other rows."""
    frame = frame.with_columns(
        utc_timestamps(frame["time"]).alias("ts"),
        pl.col("duration").str.strip_suffix("ms"),
    )
    ok = (
        valid
        & pl.col("time").str.contains(UTC_TIME).fill_null(False)
        & pl.col("ts").is_not_null()
        & pl.col("level").is_in(sorted(LEVELS)).fill_null(False)
        & pl.col("message").is_not_null()
    )
    for key in ("bytes_sent", "bytes_recv", "duration"):
        ok = ok & (pl.col(key).is_null() | pl.col(key).str.contains(DIGITS))
    table = {
        (error,): {
            "error_class": classify_error(none_if_null_key(error)),
            "signals": list(
                ztunnel_signals(none_if_null_key(error), classify_error(none_if_null_key(error)))
            ),
        }
        for (error,) in distinct(frame, ["error"])
    }
    frame = lookup(
        frame, ["error"], table, {"error_class": pl.String(), "signals": pl.List(pl.String())}
    )
    frame = frame.with_columns(ok.fill_null(False).alias("__ok"))
    good = frame.filter(pl.col("__ok"))
    columns = base_columns(good, ctx) | {
        "kind": pl.lit("ztunnel"),
        "format": pl.lit(fmt),
        "time": pl.col("time"),
        "ts": pl.col("ts"),
        "role": pl.lit("ztunnel"),
        "signals": pl.col("signals"),
        "level": pl.col("level"),
        "message": pl.col("message"),
        "bytes_sent": pl.col("bytes_sent").cast(pl.Int64),
        "bytes_recv": pl.col("bytes_recv").cast(pl.Int64),
        "duration_ms": pl.col("duration").cast(pl.Int64),
        "error_class": pl.col("error_class"),
        **{record_key: pl.col(key) for key, record_key in ZTUNNEL_STRING_FIELDS.items()},
    }
    return finish(good, columns), frame.filter(~pl.col("__ok"))["idx"]
