"""The report stage: aggregates record batches into small mergeable partial counts.

Memory is bounded by the number of distinct keys (routes, clusters, minutes, error classes,
latency buckets), not by the input: incoming batches are buffered up to ``batch_rows`` rows
and then reduced in one parallel polars pass (``collect_all``) to per-minute counts; the
partials of many passes are re-reduced ("compacted") once they pile up. Nothing here runs
per record in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from logwatch.report.incidents import find_incidents
from logwatch.report.latency import duration_bucket, percentiles
from logwatch.report.model import (
    ALWAYS_LISTED_FLAGS,
    CLUSTER_MINUTES_SCHEMA,
    KNOWN_SIGNALS,
    ROUTE_MINUTES_SCHEMA,
    ZTUNNEL_MINUTES_SCHEMA,
    ClusterSummary,
    InputTotals,
    Report,
    RouteSummary,
    ZtunnelSummary,
)

_MINUTE = pl.col("ts").dt.truncate("1m").alias("minute")
# The record columns the report reads; buffered batches keep only these (a zero-copy
# projection), so the wide text columns of pending rows are released at once.
_USED_COLUMNS = (
    "kind",
    "ts",
    "signals",
    "response_flags",
    "response_code",
    "route_name",
    "upstream_cluster",
    "duration_ms",
    "message",
    "error",
    "error_class",
)
_COUNTS = ("requests", "rate_limited", "circuit_breaker", "status_5xx")
# name -> (group keys, summed value columns) of each partial aggregate
_PARTIAL_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kinds": (("kind",), ("records",)),
    "signals": (("signal",), ("count",)),
    "flags": (("flag",), ("count",)),
    "route_minutes": (("minute", "route_name"), tuple(ROUTE_MINUTES_SCHEMA)[2:]),
    "cluster_minutes": (("minute", "upstream_cluster"), tuple(CLUSTER_MINUTES_SCHEMA)[2:]),
    "ztunnel_minutes": (("minute", "error_class"), tuple(ZTUNNEL_MINUTES_SCHEMA)[2:]),
    "durations": (("route_name", "bucket"), ("count",)),
}


def _partial_queries(batch: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    # One narrow frame per kind with the per-record facts, shared by the group-bys below
    # (collect_all evaluates a common sub-plan once).
    envoy = batch.filter(pl.col("kind") == "envoy").select(
        _MINUTE,
        "route_name",
        "upstream_cluster",
        "duration_ms",
        "response_flags",
        pl.lit(1, dtype=pl.Int64).alias("requests"),
        pl.col("signals").list.contains("rate_limited").cast(pl.Int64).alias("rate_limited"),
        pl.col("signals").list.contains("circuit_breaker").cast(pl.Int64).alias("circuit_breaker"),
        pl.col("response_code")
        .is_between(500, 599)
        .fill_null(False)
        .cast(pl.Int64)
        .alias("status_5xx"),
    )
    ztunnel = batch.filter(pl.col("kind") == "ztunnel")
    sums = [pl.col(c).sum() for c in _COUNTS]
    return {
        "kinds": batch.group_by("kind").agg(
            pl.len().cast(pl.Int64).alias("records"),
            pl.col("ts").min().alias("first"),
            pl.col("ts").max().alias("last"),
        ),
        "signals": batch.select(pl.col("signals").explode().alias("signal"))
        .drop_nulls()
        .group_by("signal")
        .agg(pl.len().cast(pl.Int64).alias("count")),
        "flags": envoy.select(pl.col("response_flags").explode().alias("flag"))
        .drop_nulls()
        .group_by("flag")
        .agg(pl.len().cast(pl.Int64).alias("count")),
        "route_minutes": envoy.group_by("minute", "route_name").agg(sums),
        "cluster_minutes": envoy.group_by("minute", "upstream_cluster").agg(sums),
        "ztunnel_minutes": ztunnel.group_by(_MINUTE, "error_class").agg(
            (pl.col("message") != "connection opened")
            .fill_null(True)
            .sum()
            .cast(pl.Int64)
            .alias("connections"),
            pl.col("error").is_not_null().sum().cast(pl.Int64).alias("errors"),
        ),
        "durations": envoy.filter(pl.col("duration_ms").is_not_null())
        .group_by("route_name", duration_bucket(pl.col("duration_ms")).alias("bucket"))
        .agg(pl.len().cast(pl.Int64).alias("count")),
    }


class ReportStage:
    """A RecordStage that builds the incident report. Order-insensitive: the same records in
    any order and batching give the same report. ``report()`` may be called at any time."""

    def __init__(self, *, batch_rows: int = 100_000, compact_after: int = 16) -> None:
        self._batch_rows = batch_rows
        self._compact_after = compact_after
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._partials: dict[str, list[pl.DataFrame]] = {name: [] for name in _PARTIAL_KEYS}
        self._first: datetime | None = None
        self._last: datetime | None = None

    def on_records(self, records: pl.DataFrame) -> None:
        self._pending.append(records.select(_USED_COLUMNS))
        self._pending_rows += records.height
        if self._pending_rows >= self._batch_rows:
            self._reduce_pending()

    def on_watermark(self, watermark: datetime) -> None:
        """The report covers the whole input; it has no windows to close."""

    def flush(self) -> None:
        """Nothing durable to write: the report is rendered once at the end."""

    def report(
        self,
        inputs: InputTotals,
        *,
        hops: dict[str, Any] | None = None,
        alerts: list[dict[str, Any]] | None = None,
    ) -> Report:
        self._reduce_pending()
        merged = {name: self._compacted(name) for name in _PARTIAL_KEYS}
        kinds = merged["kinds"].sort(["records", "kind"], descending=[True, False])
        route_minutes = merged["route_minutes"].sort(["minute", "route_name"], nulls_last=True)
        cluster_minutes = merged["cluster_minutes"].sort(
            ["minute", "upstream_cluster"], nulls_last=True
        )
        ztunnel_minutes = merged["ztunnel_minutes"].sort(["minute", "error_class"], nulls_last=True)
        return Report(
            input=inputs,
            time_start=self._first,
            time_end=self._last,
            records_by_kind=tuple(zip(kinds["kind"], kinds["records"], strict=True)),
            signals=_ranked(merged["signals"], "signal", KNOWN_SIGNALS),
            response_flags=_ranked(merged["flags"], "flag", ALWAYS_LISTED_FLAGS),
            routes=_routes(route_minutes, merged["durations"]),
            upstream_clusters=_clusters(cluster_minutes),
            ztunnel=_ztunnel(ztunnel_minutes),
            route_minutes=route_minutes,
            cluster_minutes=cluster_minutes,
            ztunnel_minutes=ztunnel_minutes,
            incidents=find_incidents(route_minutes, ztunnel_minutes),
            hops=hops,
            alerts=alerts,
        )

    def _reduce_pending(self) -> None:
        if not self._pending:
            return
        batch = pl.concat(self._pending, how="vertical", rechunk=False).lazy()
        self._pending, self._pending_rows = [], 0
        names = list(_PARTIAL_KEYS)
        queries = _partial_queries(batch)
        results = pl.collect_all([queries[name] for name in names])
        for name, frame in zip(names, results, strict=True):
            if name == "kinds":
                self._note_time_range(frame)
                frame = frame.drop("first", "last")
            if frame.height:
                parts = self._partials[name]
                parts.append(frame)
                if len(parts) >= self._compact_after:
                    self._partials[name] = [self._compacted(name)]

    def _note_time_range(self, kinds: pl.DataFrame) -> None:
        first, last = kinds["first"].min(), kinds["last"].max()
        if isinstance(first, datetime) and (self._first is None or first < self._first):
            self._first = first
        if isinstance(last, datetime) and (self._last is None or last > self._last):
            self._last = last

    def _compacted(self, name: str) -> pl.DataFrame:
        keys, values = _PARTIAL_KEYS[name]
        parts = self._partials[name]
        if not parts:
            return _empty(name)
        if len(parts) == 1:
            return parts[0]
        frame = (
            pl.concat(parts, how="vertical").group_by(*keys).agg(pl.col(v).sum() for v in values)
        )
        self._partials[name] = [frame]
        return frame


def _empty(name: str) -> pl.DataFrame:
    schemas: dict[str, dict[str, pl.DataType]] = {
        "kinds": {"kind": pl.String(), "records": pl.Int64()},
        "signals": {"signal": pl.String(), "count": pl.Int64()},
        "flags": {"flag": pl.String(), "count": pl.Int64()},
        "route_minutes": ROUTE_MINUTES_SCHEMA,
        "cluster_minutes": CLUSTER_MINUTES_SCHEMA,
        "ztunnel_minutes": ZTUNNEL_MINUTES_SCHEMA,
        "durations": {"route_name": pl.String(), "bucket": pl.Int64(), "count": pl.Int64()},
    }
    return pl.DataFrame(schema=schemas[name])


def _ranked(counts: pl.DataFrame, key: str, always: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Counts by name, largest first then by name; names in ``always`` appear even at zero."""
    found = dict(zip(counts[key], counts["count"], strict=True))
    for name in always:
        found.setdefault(name, 0)
    return tuple(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def _by_requests(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.sort(
        [pl.col("requests"), pl.col(key).is_null(), pl.col(key)],
        descending=[True, False, False],
    )


def _routes(route_minutes: pl.DataFrame, durations: pl.DataFrame) -> tuple[RouteSummary, ...]:
    totals = route_minutes.group_by("route_name").agg(pl.col(c).sum() for c in _COUNTS)
    latency = percentiles(durations, "route_name", (50, 99))
    joined = _by_requests(
        totals.join(latency, on="route_name", how="left", nulls_equal=True), "route_name"
    )
    return tuple(RouteSummary(**row) for row in joined.iter_rows(named=True))


def _clusters(cluster_minutes: pl.DataFrame) -> tuple[ClusterSummary, ...]:
    totals = cluster_minutes.group_by("upstream_cluster").agg(pl.col(c).sum() for c in _COUNTS)
    return tuple(
        ClusterSummary(**row)
        for row in _by_requests(totals, "upstream_cluster").iter_rows(named=True)
    )


def _ztunnel(ztunnel_minutes: pl.DataFrame) -> ZtunnelSummary:
    errors = (
        ztunnel_minutes.filter(pl.col("error_class").is_not_null() & (pl.col("errors") > 0))
        .group_by("error_class")
        .agg(pl.col("errors").sum())
        .sort(["errors", "error_class"], descending=[True, False])
    )
    return ZtunnelSummary(
        connections=int(ztunnel_minutes["connections"].sum()),
        errors=int(ztunnel_minutes["errors"].sum()),
        by_error_class=tuple(zip(errors["error_class"], errors["errors"], strict=True)),
    )
