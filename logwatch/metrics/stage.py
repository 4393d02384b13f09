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

from datetime import datetime

import polars as pl
from opentelemetry.metrics import Counter

from logwatch.metrics.cardinality import MISSING, BoundedValues, allow_listed
from logwatch.metrics.config import CardinalityConfig
from logwatch.metrics.histogram import (
    BUCKET,
    COUNT,
    MAX,
    MIN,
    SUM,
    BatchHistogram,
    DurationCell,
)
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

ROLES = ("ingress", "waypoint", "sidecar", "ztunnel")
DIRECTIONS = ("inbound", "outbound")
ERROR_CLASSES = (
    "policy_denied", "connect_timeout", "connection_refused", "no_healthy_upstream", "routing",
    "unknown_workload", "tls", "http2", "drain", "disconnect", "upstream_status", "other",
)  # fmt: skip
# ztunnel messages that end a connection; "connection opened" is not counted (it would count
# every connection twice).
CLOSING_MESSAGES = ("connection complete", "connection failed")

# Status hundreds without a "Nxx" class: no response sent, or not an HTTP status at all.
_STATUS_CLASSES = {0: "none", -1: "other"}
_ENVOY_KEYS = [ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS, SCOPE, BUCKET]
_ZTUNNEL_KEYS = [DIRECTION, NAMESPACE, WORKLOAD, ERROR_CLASS]
_REQUEST_KEYS = (ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS)
_RATE_LIMIT_KEYS = (ROLE, ROUTE, SCOPE)
_CIRCUIT_BREAKER_KEYS = (ROLE, UPSTREAM_CLUSTER)
_LOCAL_KEYS = (DIRECTION, NAMESPACE, WORKLOAD)


class MetricsStage:
    """A RecordStage (logwatch.pipeline.stages) that records what each batch shows.

    ``flush`` is a no-op by design: every effect is applied to the in-memory SDK state before
    ``on_records`` returns, and metric state is not meant to survive a restart (counters
    restart from zero; Prometheus ``rate()`` and OTLP cumulative start times handle that).
    """

    def __init__(
        self,
        instruments: RecordInstruments,
        durations: BatchHistogram,
        limits: CardinalityConfig,
        *,
        active: bool = True,
    ) -> None:
        self.active = active
        self._instruments = instruments
        self._durations = durations
        length = limits.max_value_length
        self.routes = BoundedValues(ROUTE, limits.max_routes, length)
        self.clusters = BoundedValues(UPSTREAM_CLUSTER, limits.max_clusters, length)
        self.flag_sets = BoundedValues(RESPONSE_FLAGS, limits.max_flag_sets, length)
        self.namespaces = BoundedValues(NAMESPACE, limits.max_namespaces, length)
        self.workloads = BoundedValues(WORKLOAD, limits.max_workloads, length)
        # Expressions are built once: building them costs as much as running them on a
        # batch of a thousand lines.
        self._envoy_columns = _envoy_columns(durations)

    @property
    def folders(self) -> tuple[BoundedValues, ...]:
        return (self.routes, self.clusters, self.flag_sets, self.namespaces, self.workloads)

    def on_records(self, records: pl.DataFrame) -> None:
        if not self.active or records.height == 0:
            return
        kinds = set(records.get_column("kind").unique().to_list())
        if "envoy" in kinds:
            self._record_envoy(records.lazy().filter(pl.col("kind") == "envoy"))
        if "ztunnel" in kinds:
            self._record_ztunnel(records.lazy().filter(pl.col("kind") == "ztunnel"))

    def on_watermark(self, watermark: datetime) -> None:
        """Metrics are counted on arrival; event time does not close anything here."""

    def flush(self) -> None:
        """Nothing is buffered (see the class docstring)."""

    # -- Envoy -----------------------------------------------------------------------------

    def _record_envoy(self, envoy: pl.LazyFrame) -> None:
        groups = envoy.select(self._envoy_columns).group_by(_ENVOY_KEYS).agg(_ENVOY_AGGS).collect()
        # From here on the work is per group (distinct attribute sets), not per line: fold
        # the free-form values, merge groups that folded together, then one add per set.
        requests: dict[tuple[str, ...], int] = {}
        limited: dict[tuple[str, ...], int] = {}
        broken: dict[tuple[str, ...], int] = {}
        timed: dict[tuple[tuple[str, ...], int], DurationCell] = {}
        fold_route, fold_cluster = self.routes.fold, self.clusters.fold
        fold_flags = self.flag_sets.fold
        for row in groups.iter_rows():
            role, route, cluster, status, flag_set, scope, bucket = row[:7]
            count, rl, uo, total_s, low_s, high_s = row[7:]
            route, cluster = fold_route(route), fold_cluster(cluster)
            status_class = _STATUS_CLASSES.get(status) or f"{status}xx"
            flag_text = ",".join(flag_set) if flag_set else MISSING
            request = (role, route, cluster, status_class, fold_flags(flag_text))
            requests[request] = requests.get(request, 0) + count
            if rl:
                limit = (role, route, scope)
                limited[limit] = limited.get(limit, 0) + rl
            if uo:
                breaker = (role, cluster)
                broken[breaker] = broken.get(breaker, 0) + uo
            if bucket is not None:
                cell = DurationCell(count, total_s, low_s, high_s)
                where = ((role, route), bucket)
                earlier = timed.get(where)
                timed[where] = cell if earlier is None else earlier.merge(cell)
        _add_all(self._instruments.requests, _REQUEST_KEYS, requests)
        _add_all(self._instruments.rate_limited, _RATE_LIMIT_KEYS, limited)
        _add_all(self._instruments.circuit_breaker, _CIRCUIT_BREAKER_KEYS, broken)
        self._durations.add(timed)

    # -- ztunnel ---------------------------------------------------------------------------

    def _record_ztunnel(self, ztunnel: pl.LazyFrame) -> None:
        groups = (
            ztunnel.filter(_CLOSING)
            .select(_ZTUNNEL_COLUMNS)
            .group_by(_ZTUNNEL_KEYS)
            .agg(_ZTUNNEL_AGGS)
            .collect()
        )
        connections: dict[tuple[str, ...], int] = {}
        io: dict[tuple[str, ...], int] = {}
        errors: dict[tuple[str, ...], int] = {}
        for (
            direction,
            namespace,
            workload,
            error_class,
            count,
            transmit,
            receive,
        ) in groups.iter_rows():
            local = (direction, self.namespaces.fold(namespace), self.workloads.fold(workload))
            connections[local] = connections.get(local, 0) + count
            for io_direction, amount in (("transmit", transmit), ("receive", receive)):
                if amount:
                    key = (*local, io_direction)
                    io[key] = io.get(key, 0) + amount
            if error_class is not None:
                key = (*local, error_class)
                errors[key] = errors.get(key, 0) + count
        _add_all(self._instruments.ztunnel_connections, _LOCAL_KEYS, connections)
        _add_all(self._instruments.ztunnel_io, (*_LOCAL_KEYS, IO_DIRECTION), io)
        _add_all(self._instruments.ztunnel_errors, (*_LOCAL_KEYS, ERROR_CLASS), errors)


def _add_all(counter: Counter, keys: tuple[str, ...], totals: dict[tuple[str, ...], int]) -> None:
    """One ``add`` per attribute set."""
    for values, total in totals.items():
        if total:
            counter.add(total, dict(zip(keys, values, strict=True)))


def _envoy_columns(durations: BatchHistogram) -> list[pl.Expr]:
    """Record columns -> attribute columns and per-record measures, before the group_by."""
    flags = pl.col("response_flags")
    code = pl.col("response_code")
    rate_limited = flags.list.contains("RL").fill_null(False)
    details = pl.col("response_code_details")
    duration_s = pl.col("duration_ms").cast(pl.Float64) / 1000.0
    return [
        allow_listed(pl.col("role"), ROLES).alias(ROLE),
        pl.col("route_name").fill_null(MISSING).alias(ROUTE),
        pl.col("upstream_cluster").fill_null(MISSING).alias(UPSTREAM_CLUSTER),
        # Status hundreds and the flag list stay unformatted here: building a string per
        # line costs more than the whole group_by; they are formatted once per group.
        pl.when(code.is_between(100, 599))
        .then(code // 100)
        .when(code.is_null() | (code == 0))
        .then(pl.lit(0))
        .otherwise(pl.lit(-1))
        .alias(STATUS_CLASS),
        flags.alias(RESPONSE_FLAGS),
        pl.when(~rate_limited)
        .then(pl.lit(MISSING))
        .when(details == "request_rate_limited")
        .then(pl.lit("global"))
        .when(details == "local_rate_limited")
        .then(pl.lit("local"))
        .otherwise(pl.lit("unknown"))
        .alias(SCOPE),
        durations.bucket_expr(duration_s).alias(BUCKET),
        rate_limited.alias("rate_limited"),
        flags.list.contains("UO").fill_null(False).alias("circuit_breaker"),
        duration_s.alias("duration_s"),
    ]


_ENVOY_AGGS = [
    pl.len().alias(COUNT),
    pl.col("rate_limited").sum(),
    pl.col("circuit_breaker").sum(),
    pl.col("duration_s").sum().alias(SUM),
    pl.col("duration_s").min().alias(MIN),
    pl.col("duration_s").max().alias(MAX),
]

_CLOSING = pl.col("message").is_in(pl.Series(CLOSING_MESSAGES).implode())
_INBOUND = pl.col("direction") == "inbound"
_ZTUNNEL_COLUMNS = [
    allow_listed(pl.col("direction"), DIRECTIONS).alias(DIRECTION),
    # The local side of the connection: the workload this ztunnel serves.
    pl.when(_INBOUND)
    .then(pl.coalesce("dst_namespace", "src_namespace"))
    .otherwise(pl.coalesce("src_namespace", "dst_namespace"))
    .fill_null(MISSING)
    .alias(NAMESPACE),
    pl.when(_INBOUND)
    .then(pl.coalesce("dst_workload", "src_workload"))
    .otherwise(pl.coalesce("src_workload", "dst_workload"))
    .fill_null(MISSING)
    .alias(WORKLOAD),
    pl.when(pl.col("error").is_null())
    .then(pl.lit(None, dtype=pl.String))
    .otherwise(allow_listed(pl.col("error_class").fill_null("other"), ERROR_CLASSES))
    .alias(ERROR_CLASS),
    pl.col("bytes_sent").fill_null(0).alias("transmit"),
    pl.col("bytes_recv").fill_null(0).alias("receive"),
]
_ZTUNNEL_AGGS = [pl.len().alias(COUNT), pl.col("transmit").sum(), pl.col("receive").sum()]
