"""Approximate joins between ztunnel legs and hops, each with a confidence in [0, 1].

No shared key exists on these legs (ztunnel logs no HTTP, a waypoint's downstream port is the
pooled HBONE connection's, an inbound ztunnel sees the HBONE connection's port), so they join
on what is logged on both sides: pod IPs, service VIP:port, identities and time, with
``max_clock_skew_s`` of tolerance because the two sides are written on different nodes.

Confidence = (how well the best candidate fits) x (its share among all fitting candidates):
one perfect candidate gives 1.0, two indistinguishable ones 0.5 each. Joins under
``min_confidence`` come back with ``accepted`` false: the caller counts them as ambiguous.

- :func:`pair_connections`: ztunnel outbound <-> inbound of one tunneled connection (1:1):
  same ``dst.hbone_addr``, same source pod IP, equal identities, close times within the skew
  and nearly equal durations.
- :func:`downstream_legs`: the ztunnel outbound connection that brought a request to a
  waypoint (many requests : one connection): source pod IP == the hop's downstream IP, and
  ``dst.hbone_addr`` == the hop's downstream local address (service VIP, Istio waypoint) or
  ``dst.addr`` IP == its local IP (Envoy Gateway waypoint); request start inside the lifetime.
- :func:`inbound_legs`: the ztunnel inbound connection at the backend that a waypoint's
  request went through: ``dst.hbone_addr`` == the backend behind ``connect_originate``, the
  source workload is the waypoint, request inside the lifetime.
"""

from __future__ import annotations

import polars as pl

from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.frames import connection_side
from logwatch.correlate.keys import MS, US, interval_candidates, ip_of

# what pair_connections reads of a connection
PAIR_COLUMNS = (
    "id",
    "file",
    "src_ip",
    "dst_ip",
    "dst_key",
    "src_identity",
    "dst_identity",
    "duration_ms",
    "close_us",
)

_BUCKET_US = 2 * US
_MIN_WEIGHT = 0.05


def _slack_us(config: CorrelationConfig) -> int:
    return int(config.max_clock_skew_s * US) + config.l4_time_tolerance_ms * MS


def pick_best(
    pairs: pl.DataFrame, fit: pl.Expr, min_confidence: float, carry: pl.Expr | None = None
) -> pl.DataFrame:
    """Best right row per left row (``id`` / ``id_r``) by ``fit`` in [0, 1], with confidence.

    Columns: left_id, right_id, confidence, candidates (fitting candidates of the left row),
    accepted. Rows under ``min_confidence`` are kept with ``accepted`` false so callers can
    count them. ``carry`` is one more named column of the best candidate to keep.
    """
    extra = [] if carry is None else [carry]
    scored = pairs.select(
        pl.col("id").alias("left_id"),
        pl.col("id_r").alias("right_id"),
        fit.clip(0.0, 1.0).alias("_fit"),
        *extra,
    ).with_columns(pl.col("_fit").clip(lower_bound=_MIN_WEIGHT).alias("_weight"))
    # best fit first; all keys ascending, which polars sorts at about half the cost
    best = (
        scored.sort("left_id", -pl.col("_fit"), "right_id")
        .group_by("left_id", maintain_order=True)
        .agg(
            pl.col("right_id").first(),
            pl.col("_fit").first().alias("_best_fit"),
            (pl.col("_weight").first() / pl.col("_weight").sum()).alias("_share"),
            pl.len().alias("candidates"),
            *[pl.col(e.meta.output_name()).first() for e in extra],
        )
        .with_columns((pl.col("_share") * (0.5 + 0.5 * pl.col("_best_fit"))).alias("confidence"))
    )
    return best.select(
        pl.col("left_id").cast(pl.Int64),
        pl.col("right_id").cast(pl.Int64),
        pl.col("confidence").cast(pl.Float64),
        pl.col("candidates").cast(pl.UInt32),
        (pl.col("confidence") >= min_confidence).alias("accepted"),
        *[pl.col(e.meta.output_name()) for e in extra],
    )


def pair_connections(
    outbound: pl.DataFrame,
    inbound: pl.DataFrame,
    config: CorrelationConfig,
    offsets: pl.DataFrame,
) -> pl.DataFrame:
    """1:1 pairs ``left_id`` (outbound) -> ``right_id`` (inbound); see ``accepted``.

    ``offsets`` (file, peer, offset_us) are known clock offsets from an outbound record's
    file to its destination pod's node (see ``skew``). Where one is known, the inbound close
    must lie within ``skew_residual_ms`` of the outbound close plus the offset; else within
    the whole skew. Also returns ``offset_us``, the observed inbound-minus-outbound close
    time, to refine the estimates.
    """
    slack = _slack_us(config)
    residual = config.skew_residual_ms * MS
    dur_tol = config.pair_duration_tolerance_ms
    left = (
        outbound.join(offsets.rename({"peer": "dst_ip"}), on=["file", "dst_ip"], how="left")
        .select(
            "id",
            "src_ip",
            "dst_key",
            "src_identity",
            "dst_identity",
            "duration_ms",
            "close_us",
            "offset_us",
            pl.when(pl.col("offset_us").is_not_null())
            .then(pl.lit(residual))
            .otherwise(pl.lit(slack))
            .alias("tolerance"),
        )
        .with_columns(
            (pl.col("close_us") + pl.col("offset_us").fill_null(0) - pl.col("tolerance")).alias(
                "lo"
            ),
            (pl.col("close_us") + pl.col("offset_us").fill_null(0) + pl.col("tolerance")).alias(
                "hi"
            ),
        )
    )
    right = inbound.select(
        "id",
        "src_ip",
        "dst_key",
        "src_identity",
        "dst_identity",
        "duration_ms",
        "close_us",
        pl.col("close_us").alias("lo"),
        pl.col("close_us").alias("hi"),
    )
    # Both sides of one tunneled connection close together (up to the skew): candidates
    # come from close times, not lifetimes, which long keep-alive connections would widen.
    pairs = interval_candidates(
        left,
        right,
        on=[("src_ip", "src_ip"), ("dst_key", "dst_key")],
        left_interval=("lo", "hi"),
        right_interval=("lo", "hi"),
        bucket_us=US,
    )
    observed = pl.col("close_us_r") - pl.col("close_us")
    close_gap = (observed - pl.col("offset_us").fill_null(0)).abs()
    dur_gap = (pl.col("duration_ms").fill_null(0) - pl.col("duration_ms_r").fill_null(0)).abs()
    same_identity = _equal_when_both(pl.col("src_identity"), pl.col("src_identity_r")) & (
        _equal_when_both(pl.col("dst_identity"), pl.col("dst_identity_r"))
    )
    tolerance = pl.col("tolerance")
    pairs = pairs.filter(same_identity & (close_gap <= tolerance) & (dur_gap <= dur_tol))
    fit = 1.0 - 0.5 * close_gap / pl.max_horizontal(tolerance, 1) - 0.5 * dur_gap / (dur_tol + 1)
    best = pick_best(pairs, fit, config.min_confidence, carry=observed.alias("offset_us"))
    # An inbound record belongs to one outbound connection: keep its most confident claim.
    return best.sort(~pl.col("accepted"), -pl.col("confidence"), "left_id").unique(
        subset=["right_id"], keep="first", maintain_order=True
    )


def downstream_legs(
    hops: pl.DataFrame, conns: pl.DataFrame, config: CorrelationConfig
) -> pl.DataFrame:
    """``left_id`` (hop) -> ``right_id`` (outbound connection of ``conns`` into the hop's
    proxy)."""
    slack = _slack_us(config)
    left = hops.select(
        "id",
        "downstream_remote_ip",
        "downstream_local_address",
        "start_us",
        pl.col("start_us").alias("lo"),
        pl.col("start_us").alias("hi"),
    )
    right = connection_side(
        conns,
        "outbound",
        "id",
        "src_ip",
        "dst_hbone_addr",
        "dst_ip",
        "open_us",
        "close_us",
        (pl.col("open_us") - slack).alias("lo"),
        (pl.col("close_us") + slack).alias("hi"),
    )
    # One interval join on the source pod, then either destination test on its candidates
    # (the pod's outbound connections around the request): cheaper than a join per
    # destination key and a union of both without duplicates.
    pairs = interval_candidates(
        left,
        right,
        on=[("downstream_remote_ip", "src_ip")],
        left_interval=("lo", "hi"),
        right_interval=("lo", "hi"),
        bucket_us=_BUCKET_US,
    )
    via_vip = pl.col("downstream_local_address") == pl.col("dst_hbone_addr")
    # the local IP is cut from the address here, on the candidates: nothing else reads it
    via_pod_ip = ip_of("downstream_local_address") == pl.col("dst_ip")
    pairs = pairs.filter(via_vip.fill_null(False) | via_pod_ip.fill_null(False)).select(
        "id", "id_r", "start_us", "open_us", "close_us"
    )
    return pick_best(pairs, _containment_fit(slack), config.min_confidence)


def inbound_legs(
    hops: pl.DataFrame, conns: pl.DataFrame, config: CorrelationConfig
) -> pl.DataFrame:
    """``left_id`` (hop) -> ``right_id`` (inbound connection of ``conns`` at the hop's
    backend).

    ``hops`` needs a ``proxy_workload`` column: the hop's pod when known (from the log path or
    the downstream leg), else null, in which case only a waypoint-named source qualifies.
    """
    slack = _slack_us(config)
    left = hops.select(
        "id",
        "upstream_target",
        "proxy_workload",
        "start_us",
        pl.col("start_us").alias("lo"),
        pl.col("end_us").alias("hi"),
    )
    right = connection_side(
        conns,
        "inbound",
        "id",
        "dst_key",
        "src_workload",
        "open_us",
        "close_us",
        (pl.col("open_us") - slack).alias("lo"),
        (pl.col("close_us") + slack).alias("hi"),
    )
    pairs = interval_candidates(
        left,
        right,
        on=[("upstream_target", "dst_key")],
        left_interval=("lo", "hi"),
        right_interval=("lo", "hi"),
        bucket_us=_BUCKET_US,
    )
    same_proxy = (
        pl.when(pl.col("proxy_workload").is_not_null())
        .then(pl.col("src_workload") == pl.col("proxy_workload"))
        .otherwise(pl.col("src_workload").str.contains(config.waypoint_workload_pattern))
    )
    pairs = pairs.filter(same_proxy.fill_null(False))
    return pick_best(pairs, _containment_fit(slack), config.min_confidence)


def _containment_fit(slack: int) -> pl.Expr:
    """1 when the request starts inside the connection's lifetime, 0.5 at the skew's edge."""
    outside = pl.max_horizontal(
        pl.col("open_us") - pl.col("start_us"), pl.col("start_us") - pl.col("close_us"), pl.lit(0)
    )
    return 1.0 - 0.5 * outside / max(slack, 1)


def _equal_when_both(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return (a.is_null() | b.is_null() | (a == b)).fill_null(True)
