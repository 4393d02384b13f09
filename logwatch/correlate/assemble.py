"""Finalized frames -> :class:`RequestPath` objects.

Joins run columnar; objects are built only for what someone reads (``--paths`` output, an
alert's sample path, failure origins), since building millions of them would cost more than
the joins.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

import polars as pl

from logwatch.correlate.origin import failure_origin
from logwatch.correlate.path import Hop, JoinKind, LegSide, RequestPath, ZtunnelLeg

_HOP_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
_LEG_TIME = "%Y-%m-%dT%H:%M:%S%.6fZ"

LEG_COLUMNS = (
    "hop_id",
    "side",
    "join",
    "confidence",
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


def _time_text(column: str, fmt: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="us").dt.strftime(fmt)


def build_paths(hops: pl.DataFrame, legs: pl.DataFrame) -> list[RequestPath]:
    """One path per ``path_key`` of ``hops`` (ordered by ``hop_index``), legs attached by id."""
    if hops.height == 0:
        return []
    legs_by_hop: dict[int, list[ZtunnelLeg]] = defaultdict(list)
    leg_rows = legs.select(
        *LEG_COLUMNS[:5], _time_text("close_us", _LEG_TIME).alias("time"), *LEG_COLUMNS[6:]
    )
    for row in leg_rows.sort(["hop_id", "side", "join"]).iter_rows(named=True):
        legs_by_hop[row["hop_id"]].append(_leg(row))
    ordered = hops.sort(["path_key", "hop_index"]).with_columns(
        _time_text("start_us", _HOP_TIME).alias("time")
    )
    paths: list[RequestPath] = []
    current_key: str | None = None
    current: list[Hop] = []
    request_id: str | None = None
    for row in ordered.iter_rows(named=True):
        if row["path_key"] != current_key:
            if current:
                paths.append(_path(request_id, current))
            current_key, current, request_id = row["path_key"], [], row["request_id"]
        current.append(_hop(row, tuple(legs_by_hop.get(row["id"], ()))))
    if current:
        paths.append(_path(request_id, current))
    return paths


def _path(request_id: str | None, hops: list[Hop]) -> RequestPath:
    ordered = tuple(hops)
    return RequestPath(request_id=request_id, hops=ordered, origin=failure_origin(ordered))


def _hop(row: dict[str, Any], legs: tuple[ZtunnelLeg, ...]) -> Hop:
    return Hop(
        role=row["role"],
        pod=row["proxy_workload"],
        namespace=row["namespace"],
        time=row["time"],
        duration_ms=row["duration_ms"],
        added_latency_ms=row["added_latency_ms"],
        method=row["method"],
        path=row["path"],
        response_code=row["response_code"],
        response_flags=tuple(row["response_flags"] or ()),
        response_code_details=row["response_code_details"],
        signals=tuple(row["signals"] or ()),
        route_name=row["route_name"],
        upstream_cluster=row["upstream_cluster"],
        upstream_host=row["upstream_host"],
        client_workload=row["client_workload"],
        upstream_workload=row["upstream_workload"],
        join=None if row["hop_index"] == 0 else "x_request_id",
        legs=legs,
        file=row["file"],
        lineno=row["lineno"],
    )


def _leg(row: dict[str, Any]) -> ZtunnelLeg:
    return ZtunnelLeg(
        side=cast(LegSide, row["side"]),
        join=cast(JoinKind, row["join"]),
        confidence=round(float(row["confidence"]), 3),
        direction=row["direction"],
        time=row["time"],
        duration_ms=row["duration_ms"],
        src_addr=row["src_addr"],
        src_workload=row["src_workload"],
        dst_addr=row["dst_addr"],
        dst_hbone_addr=row["dst_hbone_addr"],
        dst_workload=row["dst_workload"],
        dst_namespace=row["dst_namespace"],
        error=row["error"],
        error_class=row["error_class"],
        file=row["file"],
        lineno=row["lineno"],
    )
