"""The x-request-id join: hops sharing an id form one path, ordered ingress -> backend.

Envoy Gateway generates the id at the edge and Istio waypoints keep it, so every Envoy record
with the same id belongs to one request (FORMATS.md 5.1). Order cannot come from timestamps
alone (nodes' clocks disagree by up to a second while hops are milliseconds apart), so hops are
ordered by role (ingress, sidecar, waypoint), then by nesting (an outer hop lasts at least as
long as the hop it waits on), then by start time.
"""

from __future__ import annotations

import polars as pl

ROLE_RANK: dict[str, int] = {"ingress": 0, "sidecar": 1, "waypoint": 2, "ztunnel": 3}
_UNKNOWN_ROLE = 4
# sorts after every real duration
_NO_DURATION = 2**62


def order_hops(hops: pl.DataFrame) -> pl.DataFrame:
    """``hops`` plus ``hop_index`` (0 = the edge) and ``added_latency_ms``, sorted by path.

    ``added_latency_ms`` = duration minus the next hop's duration; for the last hop, duration
    minus its upstream service time (the proxy's own overhead); null when unknown.
    """
    rank = pl.col("role").replace_strict(ROLE_RANK, default=_UNKNOWN_ROLE, return_dtype=pl.Int32)
    # Sorting on the key's 64-bit hash keeps each path contiguous at a fraction of the cost of
    # a string sort; hop_index and the next hop then come from neighbouring rows, not windows.
    # (Two keys would interleave only on a hash collision, about 1e-10 per step.)
    # Longest first, unknown durations last, as ascending keys without nulls: polars sorts
    # those at about half the cost of mixed directions with nulls.
    longest_first = (-pl.col("duration_ms")).fill_null(_NO_DURATION)
    ordered = (
        hops.with_columns(
            pl.col("path_key").hash().alias("_key_hash"), longest_first.alias("_longest_first")
        )
        .sort(["_key_hash", rank, "_longest_first", "start_us", "id"])
        .drop("_longest_first")
    )
    row = pl.int_range(pl.len())
    first = (pl.col("path_key") != pl.col("path_key").shift(1)).fill_null(True)
    same_next = (pl.col("path_key") == pl.col("path_key").shift(-1)).fill_null(False)
    added = (
        pl.when(same_next)
        .then(pl.col("duration_ms") - pl.col("duration_ms").shift(-1))
        .otherwise(pl.col("duration_ms") - pl.col("upstream_service_time_ms"))
    )
    return ordered.with_columns(
        (row - pl.when(first).then(row).forward_fill()).alias("hop_index"),
        added.alias("added_latency_ms"),
    ).drop("_key_hash")


def path_counts(hops: pl.DataFrame) -> tuple[int, int, int]:
    """(paths, requests, multi_hop) over ``order_hops`` output (each path contiguous, in
    hop order) holding every hop of each of its paths.

    requests = distinct non-null x-request-id; multi_hop = those seen by at least two proxies
    (different pods, or different files when the pod is unknown), as RECORD.md defines them.
    """
    if hops.height == 0:
        return 0, 0, 0
    first = pl.col("hop_index") == 0
    proxy = pl.coalesce(pl.col("pod"), pl.col("file"), pl.lit(""))
    # a path has two proxies exactly when two of its neighbouring hops differ
    counted = hops.select(
        first.sum().alias("paths"),
        (first & pl.col("request_id").is_not_null()).sum().alias("requests"),
        first.cum_sum()
        .filter((proxy != proxy.shift(1)) & ~first & pl.col("request_id").is_not_null())
        .n_unique()
        .alias("multi"),
    ).row(0)
    return int(counted[0]), int(counted[1]), int(counted[2])
