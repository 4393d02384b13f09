"""Join keys derived from record columns, and the one interval join every hop join uses.

Everything here is a polars expression or a frame-to-frame function: the join hot path never
loops over rows in Python.
"""

from __future__ import annotations

import polars as pl

US = 1_000_000
MS = 1_000

# Envoy's synthetic upstream host of an Istio waypoint's HBONE origination.
CONNECT_ORIGINATE = "envoy://connect_originate/"


def ip_of(column: str) -> pl.Expr:
    """The IP part of an ``IP:port`` column (IPv6 ``[..]:port`` too); null when absent."""
    col = pl.col(column)
    # Two linear passes are several times cheaper than one backtracking extract.
    return (
        pl.when(col.str.contains(r":\d+$"))
        .then(col.str.replace(r":\d+$", "").str.strip_chars("[]"))
        .otherwise(None)
    )


def upstream_target(column: str = "upstream_host") -> pl.Expr:
    """The real ``IP:port`` behind an Envoy upstream host, unwrapping ``connect_originate``."""
    col = pl.col(column)
    return (
        pl.when(col.str.starts_with(CONNECT_ORIGINATE))
        .then(col.str.slice(len(CONNECT_ORIGINATE)))
        .otherwise(col)
    )


def epoch_us(column: str = "ts") -> pl.Expr:
    return pl.col(column).dt.epoch("us")


def interval_candidates(
    left: pl.DataFrame,
    right: pl.DataFrame,
    on: list[tuple[str, str]],
    left_interval: tuple[str, str],
    right_interval: tuple[str, str],
    bucket_us: int,
) -> pl.DataFrame:
    """Pairs (``left_id``, ``right_id``) with equal keys and overlapping time intervals.

    Both sides need an ``id`` column and two Int64 microsecond columns bounding an interval.
    Intervals are cut into ``bucket_us`` buckets and equi-joined on keys plus bucket, so the
    cost follows the number of real candidates, not the product of the two sides. The
    result has one row per pair, with every other column of both sides (right ones suffixed
    ``_r``). Rows with a null key never match.
    """
    left_keys = [lk for lk, _ in on]
    right_keys = [rk for _, rk in on]
    lo_l, hi_l = left_interval
    lo_r, hi_r = right_interval
    # Rows whose key has no partner on the other side cannot pair: drop them before the
    # explode (an ingress hop from an external client, a connection to a plain backend).
    left = left.drop_nulls(left_keys)
    right = right.drop_nulls(right_keys)
    left = left.join(
        right.select(right_keys).unique(), left_on=left_keys, right_on=right_keys, how="semi"
    )
    right = right.join(
        left.select(left_keys).unique(), left_on=right_keys, right_on=left_keys, how="semi"
    )
    lb = left.with_columns(
        pl.int_ranges(pl.col(lo_l) // bucket_us, pl.col(hi_l) // bucket_us + 1).alias("_bucket")
    ).explode("_bucket")
    rb = right.with_columns(
        pl.int_ranges(pl.col(lo_r) // bucket_us, pl.col(hi_r) // bucket_us + 1).alias("_bucket")
    ).explode("_bucket")
    joined = lb.join(
        rb,
        left_on=[*left_keys, "_bucket"],
        right_on=[*right_keys, "_bucket"],
        how="inner",
        suffix="_r",
    )
    lo_r_name = lo_r if lo_r not in left.columns else f"{lo_r}_r"
    hi_r_name = hi_r if hi_r not in left.columns else f"{hi_r}_r"
    return (
        joined.filter((pl.col(lo_l) <= pl.col(hi_r_name)) & (pl.col(lo_r_name) <= pl.col(hi_l)))
        .unique(subset=["id", "id_r"], keep="first", maintain_order=True)
        .drop("_bucket")
    )
