"""JSON lines, column-wise: one NDJSON decode for Envoy and ztunnel JSON lines of a chunk.

The lines are decoded with every known key as a string column (numbers arrive as digit
strings, as in Envoy Gateway's legacy format), then split: a start time makes an Envoy line,
``level``/``message`` with an access target a ztunnel line. Anything else, and any row whose
key presence the per-line path reads differently (a key present with ``null``), is returned for
the per-line path.
"""

from __future__ import annotations

import polars as pl

from parsers.columns import ColumnContext, empty_records, helper
from parsers.envoy_columns import envoy_records
from parsers.envoy_json import ENVOY_JSON_KEYS
from parsers.ztunnel_columns import ztunnel_records
from parsers.ztunnel_fields import ZTUNNEL_FIELD_KEYS

_ZTUNNEL_JSON_KEYS = ("level", "time", "timestamp", "scope", "target", "message")
_ZTUNNEL_CHECKS = ("__has_time", "__has_scope", "__has_start_time", "__message_str")
_ENVOY_SCHEMA = dict.fromkeys(ENVOY_JSON_KEYS, pl.String())
_SCHEMA = dict.fromkeys((*ENVOY_JSON_KEYS, *_ZTUNNEL_JSON_KEYS, *ZTUNNEL_FIELD_KEYS), pl.String())
# Objects, arrays, booleans and non-integer numbers as values: only the per-line path judges
# them (a decoder that turns them into strings would not spell them the same way).
_ODD_VALUE = r'":\s*(?:[\[{]|true|false|-?[0-9]+[.eE])'


def json_columns(
    part: pl.DataFrame, data: bytes, ctx: ColumnContext
) -> tuple[pl.DataFrame, pl.Series]:
    """Records for the rows of ``part`` (``idx``, ``content`` starting with ``{``, found in
    ``data`` at byte offset ``start``) that are plain Envoy or ztunnel JSON lines, and the
    ``idx`` of every other row."""
    # Fewer columns to fill when no line can be ztunnel's (it needs a "level" key): found out
    # on a helper thread while this one joins the lines.
    has_level = helper().submit(
        part.select, pl.col("content").str.contains('"level"', literal=True).any()
    )
    payload = _ndjson(part, data)
    schema = _SCHEMA if has_level.result().item() else _ENVOY_SCHEMA
    # The checks on the raw text run on a helper thread while this one decodes.
    checks = helper().submit(part.select, "idx", *_content_checks(schema))
    try:
        decoded = pl.read_ndjson(payload, schema=schema)
    except Exception:  # one bad line spoils the chunk for read_ndjson: be exact instead
        return empty_records(), part["idx"]
    if decoded.height != part.height:
        return empty_records(), part["idx"]
    # The content checks ran once, so the wide content column is not carried further.
    frame = pl.concat([checks.result(), decoded], how="horizontal")
    envoy = pl.col("start_time").is_not_null()
    if schema is _ENVOY_SCHEMA:
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias(k) for k in _SCHEMA if k not in frame.columns
        )
    frames, rejected = [], []
    envoy_part = frame.filter(envoy)
    if envoy_part.height:
        values: dict[str, pl.Expr] = {}
        for json_key, record_key in ENVOY_JSON_KEYS.items():
            column = pl.col(json_key)
            values[record_key] = (
                values[record_key].fill_null(column) if record_key in values else column
            )
        records, left = envoy_records(
            envoy_part.select("idx", "__odd", *(expr.alias(k) for k, expr in values.items())),
            ctx,
            "envoy-json",
        )
        frames.append(records)
        rejected.append(left)
    rest = frame.filter(~envoy)
    if rest.height:
        records, left = _ztunnel_json(rest, ctx)
        frames.append(records)
        rejected.append(left)
    merged = frames[0] if len(frames) == 1 else frames[0].merge_sorted(frames[1], "__order")
    return merged, pl.concat(rejected)


def _ndjson(part: pl.DataFrame, data: bytes) -> bytes:
    """The ``content`` of every row, one per line, joined from the chunk's own bytes: cheaper
    than having polars write the column out again."""
    starts = part["start"]
    ends = starts + part["content"].str.len_bytes()
    view = memoryview(data)
    return b"\n".join(
        [view[start:end] for start, end in zip(starts.to_list(), ends.to_list(), strict=True)]
    )


def _content_checks(schema: dict[str, pl.String]) -> list[pl.Expr]:
    """Boolean columns about the raw text of each line (``__odd``, and for ztunnel JSON which
    keys are present at all)."""
    content = pl.col("content")
    checks = [content.str.contains(_ODD_VALUE).alias("__odd")]
    if schema is not _SCHEMA:  # no line can be ztunnel's: the checks do not matter
        return [*checks, *(pl.lit(False).alias(name) for name in _ZTUNNEL_CHECKS)]
    checks += [
        content.str.contains(f'"{key}"', literal=True).alias(f"__has_{key}")
        for key in ("time", "scope", "start_time")
    ]
    checks.append(content.str.contains('"message":"', literal=True).alias("__message_str"))
    return checks


def _ztunnel_json(rest: pl.DataFrame, ctx: ColumnContext) -> tuple[pl.DataFrame, pl.Series]:
    # The per-line path takes "time" over "timestamp" and "scope" over "target" whenever the
    # first key is present, even with null; a present-but-null key goes to that path.
    time_known = pl.col("time").is_not_null() | (
        pl.col("timestamp").is_not_null() & ~pl.col("__has_time")
    )
    target_known = pl.col("scope").is_not_null() | (
        pl.col("target").is_not_null() & ~pl.col("__has_scope")
    )
    frame = rest.select(
        "idx",
        pl.coalesce("time", "timestamp").alias("time"),
        pl.col("level").str.to_lowercase().alias("level"),
        pl.coalesce("scope", "target").alias("target"),
        "message",
        *ZTUNNEL_FIELD_KEYS,
        (
            time_known
            & target_known
            & ~pl.col("__odd")
            # The per-line path wants the message as a JSON string.
            & pl.col("__message_str")
            # An Envoy key present with null makes the line Envoy's for the per-line path.
            & ~pl.col("__has_start_time")
        ).alias("__known"),
    )
    valid = pl.col("__known") & pl.col("target").is_in(["access", "ztunnel::access"])
    return ztunnel_records(frame, valid, ctx, "ztunnel-json")
