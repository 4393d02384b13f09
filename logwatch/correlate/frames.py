"""The correlator's internal batch shapes: Envoy hops and ztunnel connections.

A record batch (``parsers.record.RECORD_SCHEMA``) splits into a hop frame (one row per Envoy
record, a request seen by one proxy) and a connection frame (one row per finished ztunnel
connection). Times become Int64 microseconds so joins are integer comparisons. ``connection
opened`` lines (debug level, no duration, followed by a ``connection complete``) are dropped
here and counted for the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logwatch.correlate.keys import MS, epoch_us, ip_of, upstream_target

HOP_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "path_key": pl.String(),
    "request_id": pl.String(),
    "file": pl.String(),
    "lineno": pl.Int64(),
    "pod": pl.String(),
    "namespace": pl.String(),
    "role": pl.String(),
    "signals": pl.List(pl.String()),
    "method": pl.String(),
    "path": pl.String(),
    "response_code": pl.Int64(),
    "response_flags": pl.List(pl.String()),
    "response_code_details": pl.String(),
    "duration_ms": pl.Int64(),
    "upstream_service_time_ms": pl.Int64(),
    "route_name": pl.String(),
    "upstream_cluster": pl.String(),
    "upstream_host": pl.String(),
    "upstream_target": pl.String(),
    "upstream_local_address": pl.String(),
    "downstream_local_address": pl.String(),
    "downstream_remote_ip": pl.String(),
    "start_us": pl.Int64(),
    "end_us": pl.Int64(),
}

CONN_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "file": pl.String(),
    "lineno": pl.Int64(),
    "message": pl.String(),
    "direction": pl.String(),
    "src_addr": pl.String(),
    "src_ip": pl.String(),
    "src_workload": pl.String(),
    "src_namespace": pl.String(),
    "src_identity": pl.String(),
    "dst_addr": pl.String(),
    "dst_ip": pl.String(),
    "dst_key": pl.String(),
    "dst_hbone_addr": pl.String(),
    "dst_service": pl.String(),
    "dst_workload": pl.String(),
    "dst_namespace": pl.String(),
    "dst_identity": pl.String(),
    "duration_ms": pl.Int64(),
    "error": pl.String(),
    "error_class": pl.String(),
    "open_us": pl.Int64(),
    "close_us": pl.Int64(),
    # ztunnel outbound <-> inbound pairing, filled once the connection has settled
    "peer_id": pl.Int64(),
    "peer_confidence": pl.Float64(),
    "pair_done": pl.Boolean(),
    # joined to a hop or paired with its other side; unjoined ones count as unmatched
    "joined": pl.Boolean(),
}


def compact_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its string columns copied into buffers of their own.

    Polars' filter and slice share a string column's buffers with the source, and a buffer
    lives while any row points into it: state that keeps a few rows of many batches would
    hold every one of those batches. Values are unchanged.
    """
    return frame.with_columns(pl.col(pl.String) + pl.lit(""))


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """``query`` run by polars' in-memory engine: on the correlator's frames (a batch, a
    step's hops) it costs less than the streaming engine that ``collect()`` picks by default,
    about 10 % of the correlator's time."""
    return query.collect(engine="in-memory")


def connection_side(conns: pl.DataFrame, direction: str, *columns: str | pl.Expr) -> pl.DataFrame:
    """``columns`` of the ``direction`` connections (lazy: the other columns are not
    filtered)."""
    return collect(conns.lazy().filter(pl.col("direction") == direction).select(columns))


def count_where(frame: pl.DataFrame, predicate: pl.Expr) -> int:
    """Rows of ``frame`` where ``predicate`` holds, counted without copying them out."""
    return int(frame.select(predicate.sum()).item())


_IS_HOP = pl.col("kind") == "envoy"
# ``connection opened`` lines have no duration and are followed by the connection's end
_IS_FINISHED_CONN = (pl.col("kind") == "ztunnel") & (pl.col("message") != "connection opened")


def _hop_end_us() -> pl.Expr:
    return epoch_us("ts") + pl.col("duration_ms").fill_null(0).clip(lower_bound=0) * MS


@dataclass(frozen=True, slots=True)
class Intake:
    """One record batch split for the correlator: the queries of its hops (ids from the
    first id given) and of its finished connections (ids after the hops'), and how many
    ``connection opened`` lines were dropped. Collecting is the caller's: the two queries
    share nothing, so they can be collected at once."""

    hops: pl.LazyFrame
    conns: pl.LazyFrame
    connections_opened: int


def split_records(records: pl.DataFrame, first_id: int) -> Intake:
    """The queries of ``records``, after one pass counting what they must know beforehand."""
    opened = (pl.col("kind") == "ztunnel") & (pl.col("message") == "connection opened")
    hop_count, without_id, opened_count = records.select(
        _IS_HOP.sum().alias("hops"),
        (_IS_HOP & pl.col("request_id").is_null()).sum().alias("without_id"),
        opened.sum().alias("opened"),
    ).row(0)
    return Intake(
        _hops_query(records, first_id, fallback_keys=without_id > 0),
        _conns_query(records, first_id + hop_count),
        int(opened_count),
    )


def count_late(records: pl.DataFrame, closed_us: int) -> int:
    """Records of ``records`` that end (hops) or close (connections) before ``closed_us``."""
    late = (_IS_HOP & (_hop_end_us() < closed_us)) | (_IS_FINISHED_CONN & (epoch_us() < closed_us))
    return int(records.select(late.sum()).item())


def _hops_query(records: pl.DataFrame, first_id: int, *, fallback_keys: bool) -> pl.LazyFrame:
    """Envoy rows of ``records`` as a hop frame with ids ``first_id, first_id + 1, ...``.

    ``path_key`` is the x-request-id, or ``"<file>:<lineno>"`` for a record without one (such
    a request cannot be followed across Envoy hops, but still gets a path of its own).
    """
    # lazy, so that only the columns used are filtered, not the whole record batch
    envoy = records.lazy().filter(_IS_HOP)
    start = epoch_us("ts")
    path_key = pl.col("request_id")
    if fallback_keys:
        # formatted only when needed: nearly every Envoy record has an id. (concat_str, not
        # pl.format: polars 2.1's streaming engine panics on pl.format over a filtered frame
        # of several chunks, which batches taken in together are.)
        fallback = pl.concat_str(
            pl.col("file").fill_null("-"),
            pl.lit(":"),
            pl.col("lineno").fill_null(0).cast(pl.String),
        )
        path_key = pl.coalesce(path_key, fallback)
    return envoy.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_id).alias("id"),
        path_key.alias("path_key"),
        "request_id",
        "file",
        "lineno",
        "pod",
        "namespace",
        "role",
        "signals",
        "method",
        "path",
        "response_code",
        "response_flags",
        "response_code_details",
        "duration_ms",
        "upstream_service_time_ms",
        "route_name",
        "upstream_cluster",
        "upstream_host",
        upstream_target().alias("upstream_target"),
        "upstream_local_address",
        "downstream_local_address",
        ip_of("downstream_remote_address").alias("downstream_remote_ip"),
        start.alias("start_us"),
        _hop_end_us().alias("end_us"),
    ).cast(HOP_SCHEMA)  # type: ignore[arg-type]


def _conns_query(records: pl.DataFrame, first_id: int) -> pl.LazyFrame:
    """Finished ztunnel connections (``complete`` or ``failed``) of ``records``.

    ztunnel stamps its line when the connection ends; ``open_us`` is that minus ``duration``.
    """
    finished = records.lazy().filter(_IS_FINISHED_CONN)
    close = epoch_us("ts")
    return finished.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_id).alias("id"),
        "file",
        "lineno",
        "message",
        "direction",
        "src_addr",
        ip_of("src_addr").alias("src_ip"),
        "src_workload",
        "src_namespace",
        "src_identity",
        "dst_addr",
        ip_of("dst_addr").alias("dst_ip"),
        pl.coalesce(pl.col("dst_hbone_addr"), pl.col("dst_addr")).alias("dst_key"),
        "dst_hbone_addr",
        "dst_service",
        "dst_workload",
        "dst_namespace",
        "dst_identity",
        "duration_ms",
        "error",
        "error_class",
        (close - pl.col("duration_ms").fill_null(0).clip(lower_bound=0) * MS).alias("open_us"),
        close.alias("close_us"),
        pl.lit(None, dtype=pl.Int64).alias("peer_id"),
        pl.lit(None, dtype=pl.Float64).alias("peer_confidence"),
        pl.lit(False).alias("pair_done"),
        pl.lit(False).alias("joined"),
    ).cast(CONN_SCHEMA)  # type: ignore[arg-type]
