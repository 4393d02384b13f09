"""Exact L4 join: an Envoy request and the ztunnel outbound connection that carried it.

An Envoy proxy captured by ambient (an Envoy Gateway ingress, an Envoy Gateway based
waypoint) opens a plain TCP connection that its node's ztunnel tunnels over HBONE. Envoy's
``upstream_local_address`` is then ztunnel's outbound ``src.addr`` (same socket) and Envoy's
``upstream_host`` is ztunnel's ``dst.hbone_addr``. Keep-alive connections carry many requests
and ephemeral ports are reused, so the request must also fall inside the connection's
lifetime ``[close - duration, close]``, widened by ``l4_time_tolerance_ms`` (Envoy stamps
``start_time`` before it dials, and ztunnel truncates durations to whole milliseconds).

Guarantee: each hop joins at most one connection; when two connections with the same
addresses both fit (a port reused within the tolerance) the one whose lifetime is nearest
the request start wins and the hop is counted as ambiguous.
"""

from __future__ import annotations

import polars as pl

from logwatch.correlate.frames import collect, connection_side
from logwatch.correlate.keys import MS, US, interval_candidates

L4_JOIN_SCHEMA: dict[str, pl.DataType] = {
    "hop_id": pl.Int64(),
    "conn_id": pl.Int64(),
    "candidates": pl.UInt32(),
}


def exact_l4_joins(hops: pl.DataFrame, conns: pl.DataFrame, tolerance_ms: int) -> pl.DataFrame:
    """One row per joined hop: ``hop_id``, ``conn_id``, ``candidates`` (> 1 when ambiguous)."""
    tol = tolerance_ms * MS
    # lazy: only the selected columns are filtered, not every column of the hops
    left = collect(
        hops.lazy()
        .filter(pl.col("upstream_local_address").is_not_null())
        .select(
            "id",
            "upstream_local_address",
            "upstream_host",
            "start_us",
            (pl.col("start_us") - tol).alias("lo"),
            (pl.col("end_us") + tol).alias("hi"),
        )
    )
    right = connection_side(
        conns,
        "outbound",
        "id",
        "src_addr",
        "dst_key",
        "open_us",
        "close_us",
        (pl.col("open_us") - tol).alias("lo"),
        (pl.col("close_us") + tol).alias("hi"),
    )
    pairs = interval_candidates(
        left,
        right,
        on=[("upstream_local_address", "src_addr"), ("upstream_host", "dst_key")],
        left_interval=("lo", "hi"),
        right_interval=("lo", "hi"),
        bucket_us=US,
    )
    # Distance of the request start from the connection lifetime: 0 when inside.
    distance = pl.max_horizontal(
        pl.col("open_us") - pl.col("start_us"), pl.col("start_us") - pl.col("close_us"), pl.lit(0)
    )
    return (
        pairs.with_columns(distance.alias("_distance"))
        .sort(["id", "_distance", "id_r"])
        .group_by("id", maintain_order=True)
        .agg(pl.col("id_r").first().alias("conn_id"), pl.len().alias("candidates"))
        .rename({"id": "hop_id"})
        .cast(L4_JOIN_SCHEMA)  # type: ignore[arg-type]
    )
