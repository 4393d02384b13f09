"""The ``key=value`` fields of a ztunnel text access line, column-wise, in canonical order only
(the per-line path handles any other order, escapes, unquoted 1.22 errors)."""

from __future__ import annotations

import polars as pl

# Canonical ztunnel field order (metrics.rs); any other order or key takes the per-line path.
ZTUNNEL_KEYS: tuple[str, ...] = (
    "src.addr", "src.workload", "src.namespace", "src.identity", "src.cluster",
    "dst.addr", "dst.hbone_addr", "dst.service", "dst.workload", "dst.namespace",
    "dst.identity", "dst.cluster", "direction", "bytes_sent", "bytes_recv", "duration",
)  # fmt: skip
ZTUNNEL_FIELD_KEYS: tuple[str, ...] = (*ZTUNNEL_KEYS, "error")

_VALUE = r'("[^"\\]*"|[^ "\\]*)'
_ERROR = r'(?: error="([^"\\]*)")?'


def _key(key: str) -> str:
    return key.replace(".", "[.]")


# Every field optional: any subset of the keys, in canonical order.
_ANY_FIELDS = (
    "^"
    + "".join(
        f"(?:{'' if i == 0 else ' '}{_key(key)}={_VALUE})?" for i, key in enumerate(ZTUNNEL_KEYS)
    )
    + _ERROR
    + r"[ \t]*$"
)

# The field sets ztunnel usually logs, every field present and no trailing blanks. Without
# optional fields the regex is deterministic byte by byte, so polars captures the values in
# one pass, about three times faster than with ``_ANY_FIELDS``; a line with another field set
# matches none of these and is read with ``_ANY_FIELDS``, which gives the same values for a
# line these patterns match.
_USUAL_KEY_SETS: tuple[tuple[str, ...], ...] = (
    tuple(key for key in ZTUNNEL_KEYS if not key.endswith(".cluster")),
    ZTUNNEL_KEYS,
)
_USUAL_FIELDS = tuple(
    (
        (*keys, "error"),
        "^" + " ".join(f"{_key(key)}={_VALUE}" for key in keys) + _ERROR + "$",
    )
    for keys in _USUAL_KEY_SETS
)


def ztunnel_fields(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` (which has an ``idx`` column, in ascending order) with the raw value of each
    field of ``column`` in a column named after its key (null when absent or when ``column``
    is not a canonical field list), rows in the same order."""
    parts: list[pl.DataFrame] = []
    rest = frame
    for keys, pattern in _USUAL_FIELDS:
        if rest.height == 0:
            break
        read = _read(rest, column, keys, pattern)
        # src.addr is part of every usual field set: present exactly when the pattern matched.
        matched = read["src.addr"].is_not_null()
        parts.append(read.filter(matched))
        rest = rest.filter(~matched)
    if rest.height:
        parts.append(_read(rest, column, ZTUNNEL_FIELD_KEYS, _ANY_FIELDS))
    parts = [part for part in parts if part.height]
    if not parts:  # no rows
        return _read(frame, column, ZTUNNEL_FIELD_KEYS, _ANY_FIELDS)
    return parts[0] if len(parts) == 1 else pl.concat(parts).sort("idx")


def _read(frame: pl.DataFrame, column: str, keys: tuple[str, ...], pattern: str) -> pl.DataFrame:
    groups = frame.with_columns(pl.col(column).str.extract_groups(pattern).alias("__fields"))
    read = groups.unnest("__fields").rename({str(i + 1): key for i, key in enumerate(keys)})
    return read.with_columns(
        pl.lit(None, pl.String).alias(key) for key in ZTUNNEL_FIELD_KEYS if key not in keys
    ).select(*frame.columns, *ZTUNNEL_FIELD_KEYS)
