"""MetricsStage: the record stage that turns record batches into metric updates.

Per batch: one polars ``group_by`` over the Envoy records and one over the ztunnel records;
then, per *group*, the free-form attributes (route, cluster, flag set, namespace, workload) are
folded (cardinality.py), groups that folded together are merged, and each instrument gets
exactly one ``add`` per attribute set. Python work is proportional to the number of distinct
attribute sets in the batch, never to the number of lines.

Never attached: request ids, user ids, IPs, paths, user agents, authorities (not even folded):
the attribute allow-list is the column selection below, and views.py enforces it again.

Failure modes: a batch missing record columns raises ``KeyError``-like polars errors (a
programming error upstream: batches carry RECORD_SCHEMA); values of unexpected shape (negative
or absurd status codes, unknown roles, flags, directions, error classes) are mapped to
``other`` / ``__overflow__``, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import polars as pl
from opentelemetry.metrics import Counter

from logwatch.metrics.cardinality import MISSING, BoundedValues
from logwatch.metrics.config import CardinalityConfig
from logwatch.metrics.histogram import BUCKET, BatchHistogram, DurationCell
from logwatch.metrics.instruments import (
    DIRECTION,
    ERROR_CLASS,
    IO_DIRECTION,
    NAMESPACE,
    RESPONSE_FLAGS,
    ROLE,
    ROUTE,
    SCOPE,
    STATUS_CLASS,
    UPSTREAM_CLUSTER,
    WORKLOAD,
    RecordInstruments,
)

ROLES = frozenset({"ingress", "waypoint", "sidecar", "ztunnel"})
DIRECTIONS = frozenset({"inbound", "outbound"})
ERROR_CLASSES = frozenset({
    "policy_denied", "connect_timeout", "connection_refused", "no_healthy_upstream", "routing",
    "unknown_workload", "tls", "http2", "drain", "disconnect", "upstream_status", "other",
})  # fmt: skip
# ztunnel messages that end a connection; "connection opened" is not counted (it would count
# every connection twice).
CLOSING_MESSAGES = ("connection complete", "connection failed")
# Rate-limit scope from response_code_details (RECORD.md, "Signals").
SCOPES = {"request_rate_limited": "global", "local_rate_limited": "local"}
OTHER = "other"

_REQUEST_KEYS = (ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS)
_RATE_LIMIT_KEYS = (ROLE, ROUTE, SCOPE)
_CIRCUIT_BREAKER_KEYS = (ROLE, UPSTREAM_CLUSTER)
_LOCAL_KEYS = (DIRECTION, NAMESPACE, WORKLOAD)


class HopSource(Protocol):
    """A correlator (``logwatch.correlate.Correlator``), as far as the metrics read it."""

    def drain_hop_metrics(self) -> pl.DataFrame: ...


class MetricsStage:
    """A RecordStage (logwatch.pipeline.stages) that records what each batch shows, and,
    once it follows a correlator (``follow_hops``), the added latency of the hops that
    correlator finalized, at each watermark (the pipeline calls the correlator first; the
    correlator must keep its hop metrics, see ``Correlator.keep_recent_only``).

    ``flush`` is a no-op by design: every effect is applied to the in-memory SDK state before
    ``on_records`` returns, and metric state is not meant to survive a restart (counters
    restart from zero; Prometheus ``rate()`` and OTLP cumulative start times handle that).
    """

    def __init__(
        self,
        instruments: RecordInstruments,
        durations: BatchHistogram,
        hop_latency: BatchHistogram,
        limits: CardinalityConfig,
        *,
        active: bool = True,
    ) -> None:
        self.active = active
        self._instruments = instruments
        self._durations = durations
        self._hop_latency = hop_latency
        self._hops: HopSource | None = None
        length = limits.max_value_length
        self.routes = BoundedValues(ROUTE, limits.max_routes, length)
        self.clusters = BoundedValues(UPSTREAM_CLUSTER, limits.max_clusters, length)
        self.flag_sets = BoundedValues(RESPONSE_FLAGS, limits.max_flag_sets, length)
        self.namespaces = BoundedValues(NAMESPACE, limits.max_namespaces, length)
        self.workloads = BoundedValues(WORKLOAD, limits.max_workloads, length)
        # Built once: building the query costs as much as running it on a thousand lines.
        self._envoy_query = _envoy_query(durations)

    @property
    def folders(self) -> tuple[BoundedValues, ...]:
        return (self.routes, self.clusters, self.flag_sets, self.namespaces, self.workloads)

    def on_records(self, records: pl.DataFrame) -> None:
        if not self.active or records.height == 0:
            return
        kinds = set(records.get_column("kind").unique().to_list())
        if "envoy" in kinds:
            self._record_envoy(self._envoy_query(records.lazy()).collect())
        if "ztunnel" in kinds:
            self._record_ztunnel(_ztunnel_query(records.lazy()).collect())

    def follow_hops(self, correlator: HopSource) -> None:
        """Record the added latency of the hops ``correlator`` finalizes from now on."""
        self._hops = correlator

    def on_watermark(self, watermark: datetime) -> None:
        """Records are counted on arrival; the followed correlator's finalized hops now."""
        if self.active and self._hops is not None:
            self._record_hops(self._hops.drain_hop_metrics())

    def flush(self) -> None:
        """Nothing is buffered (see the class docstring)."""

    def _record_envoy(self, groups: pl.DataFrame) -> None:
        """One row per distinct (role, route, cluster, code, flags, RL details, bucket): fold
        and format per group, merge groups that became equal, then one add per set."""
        requests: dict[tuple[str, ...], int] = {}
        limited: dict[tuple[str, ...], int] = {}
        broken: dict[tuple[str, ...], int] = {}
        timed: dict[tuple[tuple[str, ...], int], DurationCell] = {}
        for row in groups.iter_rows():
            role, route, cluster, code, flags, rl_details, bucket = row[:7]
            count, total_ms, low_ms, high_ms = row[7:]
            role = _role(role)
            route, cluster = self.routes.fold(route), self.clusters.fold(cluster)
            flag_set = self.flag_sets.fold(",".join(flags) if flags else MISSING)
            request = (role, route, cluster, _status_class(code), flag_set)
            requests[request] = requests.get(request, 0) + count
            if flags and "RL" in flags:
                limit = (role, route, SCOPES.get(rl_details or "", "unknown"))
                limited[limit] = limited.get(limit, 0) + count
            if flags and "UO" in flags:
                breaker = (role, cluster)
                broken[breaker] = broken.get(breaker, 0) + count
            if bucket is not None:
                _merge_cell(timed, (role, route), bucket, count, (total_ms, low_ms, high_ms))
        _add_all(self._instruments.requests, _REQUEST_KEYS, requests)
        _add_all(self._instruments.rate_limited, _RATE_LIMIT_KEYS, limited)
        _add_all(self._instruments.circuit_breaker, _CIRCUIT_BREAKER_KEYS, broken)
        self._durations.add(timed)

    def _record_hops(self, hops: pl.DataFrame) -> None:
        """Finalized hops (``Correlator.drain_hop_metrics``) into the added-latency
        histogram: one row per distinct (role, route, bucket) from polars, then per group."""
        if hops.height == 0:
            return
        added = pl.col("added_latency_ms").clip(lower_bound=0)
        groups = (
            hops.lazy()
            .filter(added.is_not_null())
            .group_by("role", "route_name", self._hop_latency.bucket_expr_ms(added).alias(BUCKET))
            .agg(pl.len(), added.sum().alias("sum"), added.min().alias("min"), added.max())
            .collect()
        )
        timed: dict[tuple[tuple[str, ...], int], DurationCell] = {}
        for role, route, bucket, count, total_ms, low_ms, high_ms in groups.iter_rows():
            where = (_role(role), self.routes.fold(route))
            _merge_cell(timed, where, bucket, count, (total_ms, low_ms, high_ms))
        self._hop_latency.add(timed)

    def _record_ztunnel(self, groups: pl.DataFrame) -> None:
        """One row per distinct (direction, both namespaces and workloads, error class, has
        error); the local side is picked per group."""
        connections: dict[tuple[str, ...], int] = {}
        io: dict[tuple[str, ...], int] = {}
        errors: dict[tuple[str, ...], int] = {}
        for row in groups.iter_rows():
            direction, src_ns, src_wl, dst_ns, dst_wl, error_class, failed = row[:7]
            count, transmit, receive = row[7:]
            # The local side of the connection: the workload this ztunnel serves.
            if direction == "inbound":
                namespace, workload = dst_ns or src_ns, dst_wl or src_wl
            else:
                namespace, workload = src_ns or dst_ns, src_wl or dst_wl
            direction = direction if direction in DIRECTIONS else (OTHER if direction else MISSING)
            local = (direction, self.namespaces.fold(namespace), self.workloads.fold(workload))
            connections[local] = connections.get(local, 0) + count
            for io_direction, amount in (("transmit", transmit), ("receive", receive)):
                if amount:
                    key = (*local, io_direction)
                    io[key] = io.get(key, 0) + amount
            if failed:
                error_class = error_class if error_class in ERROR_CLASSES else OTHER
                key = (*local, error_class)
                errors[key] = errors.get(key, 0) + count
        _add_all(self._instruments.ztunnel_connections, _LOCAL_KEYS, connections)
        _add_all(self._instruments.ztunnel_io, (*_LOCAL_KEYS, IO_DIRECTION), io)
        _add_all(self._instruments.ztunnel_errors, (*_LOCAL_KEYS, ERROR_CLASS), errors)


def _role(role: str | None) -> str:
    if role is not None and role in ROLES:
        return role
    return OTHER if role else MISSING


def _merge_cell(
    timed: dict[tuple[tuple[str, ...], int], DurationCell],
    attributes: tuple[str, ...],
    bucket: int,
    count: int,
    milliseconds: tuple[int, int, int],
) -> None:
    """Add a group's (sum, min, max) milliseconds to ``timed`` under (attributes, bucket):
    groups that folded into the same attribute values merge."""
    total, low, high = milliseconds
    cell = DurationCell(count, total / 1000, low / 1000, high / 1000)
    earlier = timed.get((attributes, bucket))
    timed[(attributes, bucket)] = cell if earlier is None else earlier.merge(cell)


def _status_class(code: int | None) -> str:
    if code is None or code == 0:
        return "none"
    return f"{code // 100}xx" if 100 <= code <= 599 else OTHER


def _add_all(counter: Counter, keys: tuple[str, ...], totals: dict[tuple[str, ...], int]) -> None:
    """One ``add`` per attribute set."""
    for values, total in totals.items():
        if total:
            counter.add(total, dict(zip(keys, values, strict=True)))


def _envoy_query(durations: BatchHistogram) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """Records -> one row per distinct attribute-relevant combination, with count and
    duration sum/min/max. Per line it only hashes raw columns and compares the duration with
    the bucket bounds; every formatting (status class, flag text, scope) happens per group."""
    flags = pl.col("response_flags")
    duration = pl.col("duration_ms")
    columns = [
        pl.col("role"),
        pl.col("route_name"),
        pl.col("upstream_cluster"),
        pl.col("response_code"),
        flags,
        pl.when(flags.list.contains("RL")).then(pl.col("response_code_details")).alias("rl"),
        durations.bucket_expr_ms(duration).alias(BUCKET),
        duration,
    ]
    keys = [str(column.meta.output_name()) for column in columns[:-1]]
    aggregates = [
        pl.len(),
        duration.sum().alias("sum"),
        duration.min().alias("min"),
        duration.max().alias("max"),
    ]

    def query(records: pl.LazyFrame) -> pl.LazyFrame:
        return (
            records.filter(pl.col("kind") == "envoy").select(columns).group_by(keys).agg(aggregates)
        )

    return query


_ZTUNNEL_KEYS = [
    "direction", "src_namespace", "src_workload", "dst_namespace", "dst_workload",
    "error_class", "failed",
]  # fmt: skip


def _ztunnel_query(records: pl.LazyFrame) -> pl.LazyFrame:
    closing = pl.col("message").is_in(pl.Series(CLOSING_MESSAGES).implode())
    return (
        records.filter((pl.col("kind") == "ztunnel") & closing)
        .with_columns(pl.col("error").is_not_null().alias("failed"))
        .group_by(_ZTUNNEL_KEYS)
        .agg(
            pl.len(),
            pl.col("bytes_sent").fill_null(0).sum(),
            pl.col("bytes_recv").fill_null(0).sum(),
        )
    )
