"""Counting one finalization step into :class:`CorrelationStats` (vectorized, plus origins).

Failure origins need path objects; only paths with a signal are built, a small share.
"""

from __future__ import annotations

import polars as pl

from logwatch.correlate.assemble import build_paths
from logwatch.correlate.finalize import JoinedHops
from logwatch.correlate.frames import count_where
from logwatch.correlate.l7 import path_counts
from logwatch.correlate.stats import CorrelationStats, OriginKey


def count_step(stats: CorrelationStats, joined: JoinedHops, l4: pl.DataFrame) -> None:
    hops = joined.hops
    paths, requests, multi = path_counts(hops)
    stats.hops += hops.height
    stats.paths += paths
    stats.requests += requests
    stats.multi_hop += multi
    stats.l4_joined += l4.height
    stats.joins["l4_exact"] += l4.height
    stats.ambiguous["l4_exact"] += count_where(l4, pl.col("candidates") > 1)
    stats.joins["x_request_id"] += count_where(hops, pl.col("hop_index") > 0)
    join = pl.col("join")
    approximate = joined.legs.select(
        join.filter(join.is_in(["waypoint_downstream", "waypoint_inbound"]))
    )
    for kind, count in approximate["join"].value_counts().iter_rows():
        stats.joins[kind] += count
    stats.ambiguous["waypoint_downstream"] += joined.downstream_rejected
    stats.ambiguous["waypoint_inbound"] += joined.inbound_rejected
    downstream_ids = joined.legs.select(pl.col("hop_id").filter(join == "waypoint_downstream"))
    stats.unmatched["waypoint_downstream"] += count_where(
        hops,
        (pl.col("role") == "waypoint") & ~pl.col("id").is_in(downstream_ids["hop_id"].implode()),
    )
    # An origin is one of the hops with a signal, found by their order alone, and reads only
    # the legs that carry an error (see ``origin``): only those are built into objects here.
    failing_hops = hops.filter(pl.col("signals").list.len() > 0)
    if failing_hops.height == 0:
        return
    legs = joined.legs.filter(
        pl.col("error").is_not_null() & pl.col("hop_id").is_in(failing_hops["id"].implode())
    )
    for path in build_paths(failing_hops, legs):
        origin = path.origin
        if origin is not None:
            key = OriginKey(origin.role or "unknown", origin.pod or "unknown", origin.signal)
            stats.failures_by_origin[key] += 1
