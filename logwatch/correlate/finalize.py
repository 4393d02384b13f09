"""One finalization step: the hops of closed paths against the retained ztunnel connections.

Pure frame functions; the :class:`~logwatch.correlate.correlator.Correlator` owns the state
and calls :func:`join_hops` with every hop of the paths it closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logwatch.correlate.approx import inbound_legs
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.enrich import WorkloadDirectory
from logwatch.correlate.frames import compact_strings
from logwatch.correlate.keys import ip_of
from logwatch.correlate.l7 import order_hops
from logwatch.correlate.overlap import both

# Columns of finalized hops, as kept for paths and alert samples.
PATH_HOP_COLUMNS = (
    "id",
    "path_key",
    "request_id",
    "hop_index",
    "role",
    "pod",
    "proxy_workload",
    "namespace",
    "start_us",
    "duration_ms",
    "added_latency_ms",
    "method",
    "path",
    "response_code",
    "response_flags",
    "response_code_details",
    "signals",
    "route_name",
    "upstream_cluster",
    "upstream_host",
    "client_workload",
    "upstream_workload",
    "file",
    "lineno",
)

# what join_hops reads of the hops (the others are only carried to the output)
_NARROW_COLUMNS = (
    "id",
    "path_key",
    "role",
    "pod",
    "start_us",
    "end_us",
    "duration_ms",
    "upstream_service_time_ms",
    "upstream_target",
    "downstream_remote_ip",
)

# a leg's ztunnel connection fields, in ``ZtunnelLeg`` order after side/join/confidence
LEG_CONNECTION_COLUMNS = (
    "direction",
    "close_us",
    "duration_ms",
    "src_addr",
    "src_workload",
    "dst_addr",
    "dst_hbone_addr",
    "dst_workload",
    "dst_namespace",
    "error",
    "error_class",
    "file",
    "lineno",
)


@dataclass(frozen=True, slots=True)
class JoinedHops:
    """Result of one step. ``hops``: enriched, each path's hops contiguous and in hop order;
    ``legs``: one row per joined leg, its strings copied out of the retained connections."""

    hops: pl.DataFrame
    legs: pl.DataFrame
    downstream_rejected: int  # approximate candidates under min_confidence
    inbound_rejected: int


def join_hops(
    ready: pl.DataFrame,
    l4: pl.DataFrame,
    down_all: pl.DataFrame,
    conns: pl.DataFrame,
    directory: WorkloadDirectory,
    config: CorrelationConfig,
) -> JoinedHops:
    """Attach ztunnel legs to ``ready`` hops given their exact L4 joins ``l4`` and their
    ``downstream_legs`` ``down_all`` (the caller's, so that it can compute them alongside).

    ``conns`` must already hold the outbound/inbound pairing of every connection in ``l4``.
    """
    down = down_all.filter("accepted")
    # The joins and the path order need a few columns: they work on those, and the rest of
    # each hop is gathered once, in path order, at the end.
    narrow = ready.select(pl.int_range(pl.len()).alias("_row"), *_NARROW_COLUMNS)
    # The proxy's own pod: from the log path, else the workload the downstream leg went to.
    hops = (
        narrow.join(
            down.select(pl.col("left_id").alias("id"), pl.col("right_id").alias("_down")),
            on="id",
            how="left",
        )
        .join(
            conns.select(pl.col("id").alias("_down"), pl.col("dst_workload").alias("_down_wl")),
            on="_down",
            how="left",
        )
        .with_columns(pl.coalesce("pod", "_down_wl").alias("proxy_workload"))
        .with_columns(_role_from_workload(config.waypoint_workload_pattern))
        .drop("_down", "_down_wl")
    )
    # narrowed first: filtering every column of the hops would cost more than the join
    inbound_candidates = hops.select(
        "id", "upstream_target", "proxy_workload", "start_us", "end_us"
    ).filter(~pl.col("id").is_in(l4["hop_id"].implode()) & pl.col("upstream_target").is_not_null())
    # The legs and the path order share nothing but their inputs: computed at once.
    ordered, (legs, inbound_rejected) = both(
        lambda: _in_path_order(hops, ready, directory),
        lambda: _legs_of(l4, down, inbound_candidates, conns, config),
    )
    return JoinedHops(
        hops=ordered,
        legs=legs,
        downstream_rejected=down_all.height - down.height,
        inbound_rejected=inbound_rejected,
    )


def _legs_of(
    l4: pl.DataFrame,
    down: pl.DataFrame,
    inbound_candidates: pl.DataFrame,
    conns: pl.DataFrame,
    config: CorrelationConfig,
) -> tuple[pl.DataFrame, int]:
    """Every leg of the step (exact, paired, accepted downstream and inbound ones), and how
    many inbound candidates fell under ``min_confidence``."""
    inb_all = inbound_legs(inbound_candidates, conns, config)
    inb = inb_all.filter("accepted")
    pairs = l4.join(
        conns.select(pl.col("id").alias("conn_id"), "peer_id", "peer_confidence"),
        on="conn_id",
        how="inner",
    ).filter(pl.col("peer_id").is_not_null())
    links = pl.concat(
        [
            _legs(l4["hop_id"], "upstream", "l4_exact", pl.lit(1.0), l4["conn_id"], l4),
            _legs(
                pairs["hop_id"],
                "upstream",
                "ztunnel_pair",
                pl.col("peer_confidence"),
                pairs["peer_id"],
                pairs,
            ),
            _legs(
                down["left_id"],
                "downstream",
                "waypoint_downstream",
                pl.col("confidence"),
                down["right_id"],
                down,
            ),
            _legs(
                inb["left_id"],
                "upstream",
                "waypoint_inbound",
                pl.col("confidence"),
                inb["right_id"],
                inb,
            ),
        ]
    )
    # A connection carries many hops' legs: copying the connections, not every leg row,
    # keeps the legs from pinning the retained state (see compact_strings). All of those
    # around the closing hops: nearly all of them join one, and picking those out first
    # cost more than copying the few others.
    leg_conns = compact_strings(
        conns.select(pl.col("id").alias("conn_id"), *LEG_CONNECTION_COLUMNS)
    )
    legs = links.join(leg_conns, on="conn_id", how="inner")
    return legs, inb_all.height - inb.height


def _in_path_order(
    hops: pl.DataFrame, ready: pl.DataFrame, directory: WorkloadDirectory
) -> pl.DataFrame:
    """The finalized hops (``PATH_HOP_COLUMNS``): the narrow ``hops`` in path order with
    workloads named, and the rest of each hop gathered from ``ready`` in that order."""
    ordered = order_hops(hops).with_columns(ip_of("upstream_target").alias("_upstream_ip"))
    ordered = directory.annotate(ordered, "downstream_remote_ip", "start_us", "client")
    ordered = directory.annotate(ordered, "_upstream_ip", "start_us", "upstream")
    # in one chunk: a gather from the several chunks of the pending state costs about twice
    # as much as that copy
    payload = ready.select(c for c in PATH_HOP_COLUMNS if c not in ordered.columns).rechunk()
    return ordered.hstack(payload[ordered["_row"]]).select(PATH_HOP_COLUMNS)


def _role_from_workload(waypoint_pattern: str) -> pl.Expr:
    """A proxy whose log path is unknown but whose downstream leg went to a waypoint pod is a
    waypoint, whatever its route names suggest (Envoy Gateway waypoints use HTTPRoutes)."""
    learned_waypoint = pl.col("pod").is_null() & pl.col("proxy_workload").str.contains(
        waypoint_pattern
    )
    return (
        pl.when(learned_waypoint.fill_null(False))
        .then(pl.lit("waypoint"))
        .otherwise(pl.col("role"))
        .alias("role")
    )


def _legs(
    hop_ids: pl.Series,
    side: str,
    join: str,
    confidence: pl.Expr,
    conn_ids: pl.Series,
    source: pl.DataFrame,
) -> pl.DataFrame:
    return source.select(
        hop_ids.alias("hop_id"),
        pl.lit(side).alias("side"),
        pl.lit(join).alias("join"),
        confidence.cast(pl.Float64).alias("confidence"),
        conn_ids.alias("conn_id"),
    )
