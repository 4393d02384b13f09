"""Per-route latency percentiles from mergeable duration counts.

Method: **nearest rank on integer milliseconds.** For a route with n durations sorted
ascending, the p-th percentile is the value at rank ``ceil(p * n / 100)`` (1-based).

Memory: instead of keeping every duration we keep ``(route, duration bucket) -> count``.
Counts merge by addition, so per-batch partial aggregates combine exactly. Durations below
10 s are their own bucket (exact); above, a bucket keeps four significant digits (relative
error < 0.1%), like an HDR histogram. So a route holds at most 10,000 + 9,000 per further
decade distinct buckets whatever the input size; in practice a few hundred. We chose exact
counts over a t-digest because access-log durations are integers with few distinct values,
which makes the exact method both smaller and reproducible in tests.
"""

from __future__ import annotations

import polars as pl

EXACT_BELOW_MS = 10_000


def duration_bucket(duration: pl.Expr) -> pl.Expr:
    """The bucket (its lower bound, in ms) a duration is counted under; negatives count as 0."""
    d = duration.clip(lower_bound=0)
    # Keep four significant digits: scale 10 from 10^4, 100 from 10^5, ... (integers only).
    scale: pl.Expr = pl.lit(1, dtype=pl.Int64)
    for exponent in range(4, 19):
        scale = pl.when(d >= 10**exponent).then(10 ** (exponent - 3)).otherwise(scale)
    return d // scale * scale


def nearest_rank(p: int, n: pl.Expr) -> pl.Expr:
    """1-based rank of the p-th percentile among n values: ceil(p * n / 100), integer-exact."""
    return (n * p + 99) // 100


def percentiles(counts: pl.DataFrame, key: str, percents: tuple[int, ...]) -> pl.DataFrame:
    """From ``counts`` with columns ``key``, ``bucket``, ``count`` (one row per distinct
    bucket per key), compute one column ``p<N>_ms`` per percent, one row per key."""
    ranked = counts.sort([key, "bucket"], nulls_last=True).with_columns(
        cum=pl.col("count").cum_sum().over(key),
        n=pl.col("count").sum().over(key),
    )
    return ranked.group_by(key).agg(
        [
            pl.col("bucket")
            .filter(pl.col("cum") >= nearest_rank(p, pl.col("n")))
            .min()
            .alias(f"p{p}_ms")
            for p in percents
        ]
    )
