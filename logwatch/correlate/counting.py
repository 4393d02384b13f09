"""Counting one finalization step into :class:`CorrelationStats`, column-wise; failure
origins too, but for the few whose origin a ztunnel leg decides (built as path objects)."""

from __future__ import annotations

from collections import Counter

import polars as pl

from logwatch.correlate.assemble import build_paths
from logwatch.correlate.finalize import JoinedHops
from logwatch.correlate.frames import count_where
from logwatch.correlate.l7 import path_counts
from logwatch.correlate.origin import NOT_A_FAILURE
from logwatch.correlate.stats import CorrelationStats, OriginKey

_BENIGN = list(NOT_A_FAILURE)


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
    # the legs that carry an error (see ``origin``).
    failing_hops = hops.filter(pl.col("signals").list.len() > 0)
    if failing_hops.height:
        legs = joined.legs.filter(
            pl.col("error").is_not_null() & pl.col("hop_id").is_in(failing_hops["id"].implode())
        )
        stats.failures_by_origin.update(origin_counts(failing_hops, legs))


def origin_counts(failing_hops: pl.DataFrame, error_legs: pl.DataFrame) -> Counter[OriginKey]:
    """Failure origins of the paths of ``failing_hops`` (the hops with a signal), as
    ``origin.failure_origin`` finds them, counted by role, pod and signal.

    Column-wise where the origin is the deepest failing hop itself; a path whose origin hop
    has an upstream leg with an error (the failure then belongs to the next hop) is built
    into a path object and judged by ``failure_origin``: a small share of the failures.
    """
    serious = pl.col("signals").list.eval(pl.element().filter(~pl.element().is_in(_BENIGN)))
    upstream_error = error_legs.filter(pl.col("side") == "upstream")["hop_id"].implode()
    # per path, the deepest hop with a serious signal, else the deepest with any signal
    deepest = (
        failing_hops.select(
            "path_key",
            "hop_index",
            "id",
            "role",
            "proxy_workload",
            pl.when(serious.list.len() > 0)
            .then(serious.list.first())
            .otherwise(pl.col("signals").list.first())
            .alias("signal"),
            (serious.list.len() > 0).alias("serious"),
        )
        .sort("path_key", "serious", "hop_index")
        .group_by("path_key", maintain_order=True)
        .last()
        .with_columns(pl.col("id").is_in(upstream_error).alias("via_leg"))
    )
    unknown = [
        pl.when(pl.col(c).is_null() | (pl.col(c) == ""))
        .then(pl.lit("unknown"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("role", "proxy_workload")
    ]
    counted = deepest.filter(~pl.col("via_leg")).group_by(*unknown, "signal").len().iter_rows()
    counts = Counter({OriginKey(role, pod, signal): n for role, pod, signal, n in counted})
    judged = deepest.filter(pl.col("via_leg"))["path_key"]
    if judged.len():
        on_judged = pl.col("path_key").is_in(judged.implode())
        paths = build_paths(failing_hops.filter(on_judged), error_legs)
        for path in paths:
            origin = path.origin
            if origin is not None:
                counts[
                    OriginKey(origin.role or "unknown", origin.pod or "unknown", origin.signal)
                ] += 1
    return counts
