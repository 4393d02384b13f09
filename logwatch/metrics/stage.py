"""MetricsStage: the record stage that turns record batches into metric updates.

Per batch: one polars ``group_by`` over the Envoy records and one over the ztunnel records,
then the free-form attributes (route, cluster, flag set, namespace, workload) are folded on the
*grouped* frame (cardinality.py), regrouped, and each instrument gets exactly one ``add`` per
attribute set. Python work is proportional to the number of distinct attribute sets in the
batch, never to the number of lines.

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
from logwatch.metrics.histogram import BUCKET, COUNT, MAX, MIN, SUM, BatchHistogram
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

_ENVOY_KEYS = [ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS, SCOPE, BUCKET]
_ZTUNNEL_KEYS = [DIRECTION, NAMESPACE, WORKLOAD, ERROR_CLASS]


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

    @property
    def folders(self) -> tuple[BoundedValues, ...]:
        return (self.routes, self.clusters, self.flag_sets, self.namespaces, self.workloads)

    def on_records(self, records: pl.DataFrame) -> None:
        if not self.active or records.height == 0:
            return
        kind = records.get_column("kind")
        envoy = records.filter(kind == "envoy")
        if envoy.height:
            self._record_envoy(envoy)
        ztunnel = records.filter(kind == "ztunnel")
        if ztunnel.height:
            self._record_ztunnel(ztunnel)

    def on_watermark(self, watermark: datetime) -> None:
        """Metrics are counted on arrival; event time does not close anything here."""

    def flush(self) -> None:
        """Nothing is buffered (see the class docstring)."""

    # -- Envoy -----------------------------------------------------------------------------

    def _record_envoy(self, envoy: pl.DataFrame) -> None:
        flags = pl.col("response_flags")
        code = pl.col("response_code")
        rate_limited = flags.list.contains("RL").fill_null(False)
        details = pl.col("response_code_details")
        duration_s = pl.col("duration_ms").cast(pl.Float64) / 1000.0
        buckets = self._durations.bucket_of(envoy.get_column("duration_ms") / 1000.0)
        groups = (
            envoy.lazy()
            .select(
                allow_listed(pl.col("role"), ROLES).alias(ROLE),
                pl.col("route_name").fill_null(MISSING).alias(ROUTE),
                pl.col("upstream_cluster").fill_null(MISSING).alias(UPSTREAM_CLUSTER),
                pl.when(code.is_between(100, 599))
                .then((code // 100).cast(pl.String) + "xx")
                .when(code.is_null() | (code == 0))
                .then(pl.lit("none"))
                .otherwise(pl.lit("other"))
                .alias(STATUS_CLASS),
                flags.list.join(",").fill_null(MISSING).alias(RESPONSE_FLAGS),
                pl.when(~rate_limited)
                .then(pl.lit(MISSING))
                .when(details == "request_rate_limited")
                .then(pl.lit("global"))
                .when(details == "local_rate_limited")
                .then(pl.lit("local"))
                .otherwise(pl.lit("unknown"))
                .alias(SCOPE),
                pl.when(pl.col("duration_ms").is_not_null()).then(pl.lit(buckets)).alias(BUCKET),
                rate_limited.alias("rate_limited"),
                flags.list.contains("UO").fill_null(False).alias("circuit_breaker"),
                duration_s.alias("duration_s"),
            )
            .group_by(_ENVOY_KEYS)
            .agg(
                pl.len().alias(COUNT),
                pl.col("rate_limited").sum(),
                pl.col("circuit_breaker").sum(),
                pl.col("duration_s").sum().alias(SUM),
                pl.col("duration_s").min().alias(MIN),
                pl.col("duration_s").max().alias(MAX),
            )
            .collect()
        )
        groups = groups.with_columns(
            self.routes.fold(groups.get_column(ROUTE)),
            self.clusters.fold(groups.get_column(UPSTREAM_CLUSTER)),
            self.flag_sets.fold(groups.get_column(RESPONSE_FLAGS)),
        )
        requests = groups.group_by(ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS)
        _add_each(self._instruments.requests, requests.agg(pl.col(COUNT).sum()), COUNT)
        limited = groups.filter(pl.col("rate_limited") > 0).group_by(ROLE, ROUTE, SCOPE)
        _add_each(
            self._instruments.rate_limited,
            limited.agg(pl.col("rate_limited").sum()),
            "rate_limited",
        )
        broken = groups.filter(pl.col("circuit_breaker") > 0).group_by(ROLE, UPSTREAM_CLUSTER)
        _add_each(
            self._instruments.circuit_breaker,
            broken.agg(pl.col("circuit_breaker").sum()),
            "circuit_breaker",
        )
        timed = groups.filter(pl.col(BUCKET).is_not_null()).group_by(ROLE, ROUTE, BUCKET)
        self._durations.add(
            timed.agg(pl.col(COUNT).sum(), pl.col(SUM).sum(), pl.col(MIN).min(), pl.col(MAX).max())
        )

    # -- ztunnel ---------------------------------------------------------------------------

    def _record_ztunnel(self, ztunnel: pl.DataFrame) -> None:
        inbound = pl.col("direction") == "inbound"
        groups = (
            ztunnel.lazy()
            .filter(pl.col("message").is_in(pl.Series(CLOSING_MESSAGES).implode()))
            .select(
                allow_listed(pl.col("direction"), DIRECTIONS).alias(DIRECTION),
                # The local side of the connection: the workload this ztunnel serves.
                pl.when(inbound)
                .then(pl.coalesce("dst_namespace", "src_namespace"))
                .otherwise(pl.coalesce("src_namespace", "dst_namespace"))
                .fill_null(MISSING)
                .alias(NAMESPACE),
                pl.when(inbound)
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
            )
            .group_by(_ZTUNNEL_KEYS)
            .agg(pl.len().alias(COUNT), pl.col("transmit").sum(), pl.col("receive").sum())
            .collect()
        )
        if groups.height == 0:
            return
        groups = groups.with_columns(
            self.namespaces.fold(groups.get_column(NAMESPACE)),
            self.workloads.fold(groups.get_column(WORKLOAD)),
        )
        local = groups.group_by(DIRECTION, NAMESPACE, WORKLOAD).agg(
            pl.col(COUNT).sum(), pl.col("transmit").sum(), pl.col("receive").sum()
        )
        _add_each(
            self._instruments.ztunnel_connections,
            local.select(pl.exclude("transmit", "receive")),
            COUNT,
        )
        for io_direction in ("transmit", "receive"):
            io = local.filter(pl.col(io_direction) > 0).select(
                DIRECTION,
                NAMESPACE,
                WORKLOAD,
                pl.lit(io_direction).alias(IO_DIRECTION),
                io_direction,
            )
            _add_each(self._instruments.ztunnel_io, io, io_direction)
        errors = groups.filter(pl.col(ERROR_CLASS).is_not_null()).group_by(_ZTUNNEL_KEYS)
        _add_each(self._instruments.ztunnel_errors, errors.agg(pl.col(COUNT).sum()), COUNT)


def _add_each(counter: Counter, frame: pl.DataFrame, value_column: str) -> None:
    """One ``add`` per row: every column except ``value_column`` is an attribute."""
    keys = [name for name in frame.columns if name != value_column]
    for row in frame.select(*keys, value_column).iter_rows():
        value = row[-1]
        if value:
            counter.add(value, dict(zip(keys, row[:-1], strict=True)))
