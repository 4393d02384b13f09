"""Envoy JSON lines, column-wise: NDJSON decode of the chunk's JSON lines, then checks.

Rows whose values are not plainly valid (odd times, numbers, flags, nested values) are returned
for the per-line path, which decides exactly how to report them.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from parsers.columns import (
    DIGITS,
    TIME_FORMAT,
    UTC_TIME,
    ColumnContext,
    base_columns,
    distinct,
    empty_records,
    finish,
    lookup,
    none_if_null_key,
)
from parsers.details import reset_reason
from parsers.envoy_json import ENVOY_JSON_KEYS
from parsers.envoy_record import ENVOY_INT_KEYS, ENVOY_STRING_KEYS
from parsers.flags import BadFlags, envoy_signals, parse_flags


def envoy_json_columns(part: pl.DataFrame, ctx: ColumnContext) -> tuple[pl.DataFrame, pl.Series]:
    """Records for the rows of ``part`` (``idx``, ``content``) that are plain Envoy JSON lines,
    and the ``idx`` of every other row (for the per-line path)."""
    buffer = part.select("content").write_csv(include_header=False, quote_style="never")
    try:
        decoded = pl.read_ndjson(
            io.BytesIO(buffer.encode()), schema=dict.fromkeys(ENVOY_JSON_KEYS, pl.String())
        )
    except Exception:  # one bad line spoils the chunk for read_ndjson: be exact instead
        return empty_records(), part["idx"]
    if decoded.height != part.height:
        return empty_records(), part["idx"]
    values: dict[str, pl.Expr] = {}
    for json_key, record_key in ENVOY_JSON_KEYS.items():
        column = pl.col(json_key)
        values[record_key] = (
            values[record_key].fill_null(column) if record_key in values else column
        )
    odd = pl.col("content").str.contains(r'":\s*(?:[\[{]|true|false)').alias("__odd")
    frame = pl.concat([part.select("idx", odd), decoded], how="horizontal").select(
        "idx", "__odd", *(expr.alias(key) for key, expr in values.items())
    )
    frame = frame.with_columns(
        pl.when(pl.col(k) == "-").then(None).otherwise(pl.col(k)).alias(k)
        for k in (*ENVOY_STRING_KEYS, *ENVOY_INT_KEYS)
    )
    ok = pl.col("time").str.contains(UTC_TIME).fill_null(False)
    frame = frame.with_columns(
        pl.col("time")
        .str.to_datetime(TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False)
        .alias("ts")
    )
    ok = ok & pl.col("ts").is_not_null()
    for key in ENVOY_INT_KEYS:
        ok = ok & (pl.col(key).is_null() | pl.col(key).str.contains(DIGITS))
    # Objects, arrays and booleans as values: the per-line path decides what they mean.
    ok = ok & ~pl.col("__odd")
    # Derived values, once per distinct input, with the per-line functions.
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for raw_flags, details in distinct(
        frame.filter(ok), ["response_flags", "response_code_details"]
    ):
        try:
            flags = parse_flags(none_if_null_key(raw_flags))
        except BadFlags:
            table[(raw_flags, details)] = {
                "flags_ok": False,
                "response_flags_list": None,
                "signals": None,
                "reset_reason": None,
            }
            continue
        table[(raw_flags, details)] = {
            "flags_ok": True,
            "response_flags_list": list(flags),
            "signals": list(envoy_signals(flags, none_if_null_key(details))),
            "reset_reason": reset_reason(none_if_null_key(details)),
        }
    frame = lookup(
        frame,
        ["response_flags", "response_code_details"],
        table,
        {
            "flags_ok": pl.Boolean(),
            "response_flags_list": pl.List(pl.String()),
            "signals": pl.List(pl.String()),
            "reset_reason": pl.String(),
        },
    )
    ok = ok & pl.col("flags_ok").fill_null(False)
    roles = ctx.options.roles
    meta = ctx.meta
    role_table = {
        (route, cluster): {
            "role": roles.envoy_role(
                {
                    "pod": meta.pod if meta else None,
                    "container": meta.container if meta else None,
                    "namespace": meta.namespace if meta else None,
                    "route_name": none_if_null_key(route),
                    "upstream_cluster": none_if_null_key(cluster),
                    "file": ctx.file,
                }
            )
        }
        for route, cluster in distinct(frame, ["route_name", "upstream_cluster"])
    }
    frame = lookup(frame, ["route_name", "upstream_cluster"], role_table, {"role": pl.String()})
    frame = frame.with_columns(ok.alias("__ok"))
    good = frame.filter(pl.col("__ok"))
    columns = base_columns(good, ctx) | {
        "kind": pl.lit("envoy"),
        "format": pl.lit("envoy-json"),
        "time": pl.col("time"),
        "ts": pl.col("ts"),
        "role": pl.col("role"),
        "signals": pl.col("signals"),
        "response_flags": pl.col("response_flags_list"),
        "reset_reason": pl.col("reset_reason"),
        **{key: pl.col(key) for key in ENVOY_STRING_KEYS},
        **{key: pl.col(key).cast(pl.Int64) for key in ENVOY_INT_KEYS},
    }
    return finish(good, columns), frame.filter(~pl.col("__ok"))["idx"]
