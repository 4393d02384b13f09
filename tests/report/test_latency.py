"""Percentiles from merged duration counts equal nearest rank over the (bucketed) values."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.report.latency import EXACT_BELOW_MS, duration_bucket, percentiles


def reference_bucket(ms: int) -> int:
    """Independent statement of the bucketing: exact below 10 s, else 4 significant digits."""
    if ms < EXACT_BELOW_MS:
        return max(ms, 0)
    scale = 10 ** (len(str(ms)) - 4)
    return ms // scale * scale


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    rank = -(-p * len(ordered) // 100)  # ceil without floats
    value: int = ordered[rank - 1]
    return value


durations = st.integers(min_value=-5, max_value=10**12)
samples = st.dictionaries(
    st.sampled_from(["a", "b", "c"]), st.lists(durations, min_size=1, max_size=200), min_size=1
)


@settings(max_examples=150, deadline=None)
@given(samples, st.integers(min_value=1, max_value=4))
def test_merged_partial_counts_give_nearest_rank(
    by_route: dict[str, list[int]], parts: int
) -> None:
    frame = pl.DataFrame(
        [(route, d) for route, values in by_route.items() for d in values],
        schema={"route_name": pl.String(), "duration_ms": pl.Int64()},
        orient="row",
    )
    # split into partial aggregates and merge them by addition, as the report stage does
    partials = [
        frame.gather_every(parts, offset)
        .group_by("route_name", duration_bucket(pl.col("duration_ms")).alias("bucket"))
        .agg(pl.len().cast(pl.Int64).alias("count"))
        for offset in range(parts)
    ]
    merged = pl.concat(partials).group_by("route_name", "bucket").agg(pl.col("count").sum())
    result = {
        row["route_name"]: row
        for row in percentiles(merged, "route_name", (50, 99)).iter_rows(named=True)
    }
    for route, values in by_route.items():
        bucketed = [reference_bucket(v) for v in values]
        assert result[route]["p50_ms"] == nearest_rank(bucketed, 50)
        assert result[route]["p99_ms"] == nearest_rank(bucketed, 99)


def test_exact_below_ten_seconds() -> None:
    values = list(range(0, EXACT_BELOW_MS, 7))
    got = pl.select(duration_bucket(pl.lit(pl.Series(values)))).to_series().to_list()
    assert got == values
    assert reference_bucket(123_456) == 123_400
    assert pl.select(duration_bucket(pl.lit(123_456))).item() == 123_400
