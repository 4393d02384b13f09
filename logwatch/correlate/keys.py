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
    # One linear search for the port's colon, then a cut at that byte offset (on the bytes:
    # string slicing counts characters): cheaper than a regex replace or extract.
    port_colon = col.str.find(r":\d+$")
    return col.cast(pl.Binary).bin.head(port_colon).cast(pl.String).str.strip_chars("[]")


def upstream_target(column: str = "upstream_host") -> pl.Expr:
    """The real ``IP:port`` behind an Envoy upstream host, unwrapping ``connect_originate``."""
    return pl.col(column).str.strip_prefix(CONNECT_ORIGINATE)


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
    left = left.drop_nulls(left_keys)
    right = right.drop_nulls(right_keys)
    # Only row numbers, a 64-bit hash of the keys and the buckets go through the explode and
    # the join (one integer key instead of row-encoded strings); the real keys are compared
    # on the candidates left, so a hash collision cannot make a pair.
    lb = _buckets(left, left_keys, left_interval, bucket_us)
    rb = _buckets(right, right_keys, right_interval, bucket_us)
    # keys and bucket folded into one integer: a single-column join is the cheapest, and
    # both are compared again on the matches
    same_bucket = pl.col("_key") == pl.col("_key_right")
    same_bucket &= pl.col("_bucket") == pl.col("_bucket_right")
    overlap = (pl.col("_lo") <= pl.col("_hi_right")) & (pl.col("_lo_right") <= pl.col("_hi"))
    # Overlapping intervals share a run of buckets: the pair is kept in the first one only.
    first_shared = pl.col("_bucket") == pl.max_horizontal(
        pl.col("_lo") // bucket_us, pl.col("_lo_right") // bucket_us
    )
    pairs = lb.join(rb, on="_key_bucket", how="inner", suffix="_right").filter(
        same_bucket & overlap & first_shared
    )
    right_rest = [c for c in right.columns if c not in right_keys]
    names = {c: f"{c}_r" if c in left.columns else c for c in right_rest}
    right_side = right.select(
        *[pl.col(c).alias(names[c]) for c in right_rest],
        *[pl.col(k).alias(f"_right_key{i}") for i, k in enumerate(right_keys)],
    )
    same_keys = pl.all_horizontal(
        pl.col(k) == pl.col(f"_right_key{i}") for i, k in enumerate(left_keys)
    )
    return (
        left[pairs["_row"]]
        .hstack(right_side[pairs["_row_right"]])
        .filter(same_keys)
        .select(*left.columns, *names.values())
    )


def _buckets(
    frame: pl.DataFrame, keys: list[str], interval: tuple[str, str], bucket_us: int
) -> pl.DataFrame:
    """One row per bucket of each row: ``_row`` (row number), ``_key`` (a hash of ``keys``),
    ``_lo``, ``_hi``, ``_bucket`` and ``_key_bucket`` (a hash of both)."""
    lo, hi = interval
    # one seed per position: both sides hash alike whatever their column names
    key = pl.col(keys[0]).hash(seed=0)
    for position, column in enumerate(keys[1:], start=1):
        key = key ^ pl.col(column).hash(seed=position)
    return (
        frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
            key.alias("_key"),
            pl.col(lo).alias("_lo"),
            pl.col(hi).alias("_hi"),
            pl.int_ranges(pl.col(lo) // bucket_us, pl.col(hi) // bucket_us + 1).alias("_bucket"),
        )
        .explode("_bucket")
        .with_columns((pl.col("_key") ^ pl.col("_bucket").hash()).alias("_key_bucket"))
    )
