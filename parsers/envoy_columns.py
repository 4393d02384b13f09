"""Envoy records, column-wise: text formats via their compiled regex, and the checks and derived
values shared with JSON lines (decoded in ``parsers.json_columns``).

Rows whose values are not plainly valid (odd times, numbers, flags, nested values) are returned
for the per-line path, which decides exactly how to report them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from parsers.columns import (
    DIGITS,
    UTC_TIME,
    ColumnContext,
    base_columns,
    distinct,
    empty_records,
    finish,
    lookup,
    none_if_null_key,
    utc_timestamps,
)
from parsers.content import ENVOY_COMPONENT_LOG_PATTERN, text_formats
from parsers.details import reset_reason
from parsers.envoy_record import ENVOY_INT_KEYS, ENVOY_STRING_KEYS
from parsers.flags import BadFlags, envoy_signals, parse_flags


def envoy_text_columns(part: pl.DataFrame, ctx: ColumnContext) -> tuple[pl.DataFrame, pl.Series]:
    """Records for the rows of ``part`` that match one of the Envoy text formats (tried in the
    per-line path's order: user formats, then the built-in ones), and the ``idx`` of the rest.

    Formats with a custom ``%START_TIME(...)%`` or a pattern polars cannot run leave every row
    to the per-line path, which keeps the first-match order exact.
    """
    formats = text_formats(ctx.options.envoy_text_formats)
    if any(text_format.time_format is not None for text_format in formats):
        return empty_records(), part["idx"]
    remaining = part.filter(~pl.col("content").str.contains(ENVOY_COMPONENT_LOG_PATTERN))
    matched: list[pl.DataFrame] = []
    for text_format in formats:
        if remaining.height == 0:
            break
        try:
            groups = remaining.select(
                "idx",
                pl.col("content")
                .str.extract_groups(f"^(?:{text_format.pattern.pattern})$")
                .alias("m"),
            ).unnest("m")
        except pl.exceptions.PolarsError:
            return empty_records(), part["idx"]
        first_group = text_format.groups[0][0]
        hit = groups.filter(pl.col(first_group).is_not_null())
        present = dict((key, group) for group, key in text_format.groups)
        matched.append(
            hit.select(
                "idx",
                pl.lit(False).alias("__odd"),
                *(
                    (pl.col(present[key]) if key in present else pl.lit(None, pl.String)).alias(key)
                    for key in ("time", "response_flags", *ENVOY_STRING_KEYS, *ENVOY_INT_KEYS)
                ),
            )
        )
        remaining = remaining.join(hit.select("idx"), on="idx", how="anti")
    if not matched:
        return empty_records(), part["idx"]
    frame = pl.concat(matched).sort("idx")
    records, rejected = envoy_records(frame, ctx, "envoy-text")
    unmatched = part.join(frame.select("idx"), on="idx", how="anti")["idx"]
    return records, pl.concat([rejected, unmatched])


def envoy_records(
    frame: pl.DataFrame, ctx: ColumnContext, fmt: str
) -> tuple[pl.DataFrame, pl.Series]:
    """Records from raw Envoy values keyed by record key (``time`` = raw start time, ``__odd`` =
    values only the per-line path may judge), and the ``idx`` of rows left to that path."""
    frame = frame.with_columns(
        *(
            pl.when(pl.col(k) == "-").then(None).otherwise(pl.col(k)).alias(k)
            for k in (*ENVOY_STRING_KEYS, *ENVOY_INT_KEYS)
        ),
        utc_timestamps(frame["time"]).alias("ts"),
    )
    ok = pl.col("time").str.contains(UTC_TIME).fill_null(False) & pl.col("ts").is_not_null()
    for key in ENVOY_INT_KEYS:
        ok = ok & (pl.col(key).is_null() | pl.col(key).str.contains(DIGITS))
    # Objects, arrays and booleans as values: the per-line path decides what they mean.
    ok = ok & ~pl.col("__odd")
    # Evaluated once: the lookup below and the final split both need it.
    frame = frame.with_columns(ok.alias("__values_ok"))
    # Derived values, once per distinct input, with the per-line functions.
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    flag_keys = ["response_flags", "response_code_details"]
    for raw_flags, details in distinct(
        frame.select(*flag_keys, "__values_ok").filter(pl.col("__values_ok")), flag_keys
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
    ok = pl.col("__values_ok") & pl.col("flags_ok").fill_null(False)
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
        "format": pl.lit(fmt),
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
