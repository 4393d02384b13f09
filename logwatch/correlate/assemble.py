"""Finalized frames -> :class:`RequestPath` objects.

Joins run columnar; objects are built only for what someone reads (``--paths`` output, an
alert's sample path, failure origins), since building millions of them would cost more than
the joins.
"""

from __future__ import annotations

from collections import defaultdict

import polars as pl

from logwatch.correlate.finalize import LEG_CONNECTION_COLUMNS
from logwatch.correlate.origin import failure_origin
from logwatch.correlate.path import Hop, RequestPath, ZtunnelLeg

_HOP_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
_LEG_TIME = "%Y-%m-%dT%H:%M:%S%.6fZ"


def _time_text(column: str, fmt: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="us").dt.strftime(fmt)


def build_paths(hops: pl.DataFrame, legs: pl.DataFrame) -> list[RequestPath]:
    """One path per ``path_key`` of ``hops`` (ordered by ``hop_index``), legs attached by id.

    Columns are selected in the dataclasses' field order and read as column lists, so each
    object is built from one tuple (``iter_rows`` costs several times more).
    """
    if hops.height == 0:
        return []
    legs_by_hop: dict[int, list[ZtunnelLeg]] = defaultdict(list)
    if legs.height:
        leg_columns = legs.sort(["hop_id", "side", "join"]).select(
            "hop_id",
            "side",
            "join",
            pl.col("confidence").round(3),
            *(
                _time_text(name, _LEG_TIME) if name == "close_us" else name
                for name in LEG_CONNECTION_COLUMNS
            ),
        )
        for hop_id, *fields in zip(*leg_columns.to_dict(as_series=False).values(), strict=True):
            legs_by_hop[hop_id].append(ZtunnelLeg(*fields))
    ordered = hops.sort(["path_key", "hop_index"]).select(
        "path_key",
        "request_id",
        "id",
        "role",
        "proxy_workload",
        "namespace",
        _time_text("start_us", _HOP_TIME),
        "duration_ms",
        "added_latency_ms",
        "method",
        "path",
        "response_code",
        pl.col("response_flags").fill_null([]),
        "response_code_details",
        pl.col("signals").fill_null([]),
        "route_name",
        "upstream_cluster",
        "upstream_host",
        "client_workload",
        "upstream_workload",
        pl.when(pl.col("hop_index") > 0).then(pl.lit("x_request_id")).alias("join"),
        "file",
        "lineno",
    )
    paths: list[RequestPath] = []
    current_key: str | None = None
    current: list[Hop] = []
    request_id: str | None = None
    for row in zip(*ordered.to_dict(as_series=False).values(), strict=True):
        key, rid, hop_id = row[0], row[1], row[2]
        if key != current_key:
            if current:
                paths.append(_path(request_id, current))
            current_key, current, request_id = key, [], rid
        (
            role,
            pod,
            namespace,
            time,
            duration,
            added,
            method,
            path,
            code,
            flags,
            details,
            signals,
            route,
            cluster,
            upstream,
            client_wl,
            upstream_wl,
            join,
            file,
            lineno,
        ) = row[3:]
        current.append(
            Hop(
                role,
                pod,
                namespace,
                time,
                duration,
                added,
                method,
                path,
                code,
                tuple(flags),
                details,
                tuple(signals),
                route,
                cluster,
                upstream,
                client_wl,
                upstream_wl,
                join,
                tuple(legs_by_hop.get(hop_id, ())),
                file,
                lineno,
            )
        )
    if current:
        paths.append(_path(request_id, current))
    return paths


def _path(request_id: str | None, hops: list[Hop]) -> RequestPath:
    ordered = tuple(hops)
    return RequestPath(request_id=request_id, hops=ordered, origin=failure_origin(ordered))
