"""Building and tearing down the metrics side of the daemon.

    runtime = setup_metrics(config.metrics, stats)      # binds the endpoint, starts OTLP
    pipeline stages += [runtime.stage]
    runtime.observe_correlation(correlator.stats)       # when a correlator runs
    runtime.stage.follow_hops(correlator)               # per-hop added latency
    ...
    runtime.close()                                     # idempotent; final OTLP export

One MeterProvider per runtime (never the global one), so several runtimes can coexist in a
process (tests, replay next to a daemon) without sharing state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import unquote

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import CollectorRegistry

from logwatch.clock import Clock, WallClock
from logwatch.correlate.stats import CorrelationStats
from logwatch.daemon_stats import DaemonStats
from logwatch.metrics.config import MetricsConfig
from logwatch.metrics.exporters import (
    AugmentedPrometheusReader,
    PrometheusEndpoint,
    otlp_reader,
)
from logwatch.metrics.histogram import BatchHistogram, with_produced
from logwatch.metrics.instruments import (
    DURATION_BUCKETS_S,
    HOP_ADDED_LATENCY,
    REQUEST_DURATION,
    create_record_instruments,
)
from logwatch.metrics.otlp_env import OtlpTarget, resolve_otlp
from logwatch.metrics.selfmetrics import SelfMetrics
from logwatch.metrics.stage import MetricsStage
from logwatch.metrics.views import allow_list_views

log = logging.getLogger(__name__)

SCOPE_NAME = "logwatch"

# Downward-API variables of the daemon's pod spec -> resource attributes.
K8S_RESOURCE_ENV = {
    "k8s.node.name": "NODE_NAME",
    "k8s.pod.name": "POD_NAME",
    "k8s.namespace.name": "POD_NAMESPACE",
}


def _version() -> str:
    try:
        return version("logwatch")
    except PackageNotFoundError:
        return "0"


def build_resource(env: Mapping[str, str]) -> Resource:
    """service.name (``OTEL_SERVICE_NAME`` or ``logwatch``), service.version, the k8s.*
    attributes from the downward API, and ``OTEL_RESOURCE_ATTRIBUTES`` for anything else
    (which never overrides the attributes named here)."""
    attributes: dict[str, str] = {}
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[unquote(key).strip()] = unquote(value).strip()
    attributes["service.name"] = env.get("OTEL_SERVICE_NAME") or "logwatch"
    attributes["service.version"] = _version()
    for key, variable in K8S_RESOURCE_ENV.items():
        if env.get(variable):
            attributes[key] = env[variable]
    return Resource(attributes)


class MetricsRuntime:
    """The record stage plus the exporters that publish what it counts.

    ``stage`` is a RecordStage; ``prometheus`` is the bound scrape endpoint (None when
    disabled); ``otlp`` is where OTLP goes (None when off). ``close`` stops the endpoint,
    then shuts the meter provider down (one last OTLP export, bounded by its timeout);
    calling it again does nothing.
    """

    def __init__(
        self,
        stage: MetricsStage,
        provider: MeterProvider,
        self_metrics: SelfMetrics,
        prometheus: PrometheusEndpoint | None,
        otlp: OtlpTarget | None,
    ) -> None:
        self.stage = stage
        self.prometheus = prometheus
        self.otlp = otlp
        self._provider = provider
        self._self_metrics = self_metrics
        self._closed = False

    def observe_correlation(self, stats: CorrelationStats) -> None:
        """Export the correlator's running totals (read at each collection)."""
        self._self_metrics.observe_correlation(stats)

    def export_now(self, timeout_s: float = 10.0) -> bool:
        """Push to OTLP now instead of at the next interval (and refresh Prometheus state)."""
        return bool(self._provider.force_flush(timeout_millis=timeout_s * 1000.0))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.prometheus is not None:
                self.prometheus.close()
        finally:
            self._provider.shutdown()


def setup_metrics(
    config: MetricsConfig,
    stats: DaemonStats,
    *,
    resource_env: Mapping[str, str] = os.environ,
    clock: Clock | None = None,
) -> MetricsRuntime:
    """Build the runtime. ``resource_env`` is the environment read for resource attributes
    and for the ``OTEL_EXPORTER_OTLP_*`` settings (os.environ by default; tests pass a dict).

    Raises ``OSError`` when the Prometheus endpoint cannot bind and ``ValueError`` on a bad
    OTLP setting; nothing is left running in either case.
    """
    resource = build_resource(resource_env)
    scope = InstrumentationScope(SCOPE_NAME, _version())
    durations = BatchHistogram(REQUEST_DURATION, DURATION_BUCKETS_S)
    hop_latency = BatchHistogram(HOP_ADDED_LATENCY, DURATION_BUCKETS_S)

    def augment(data: MetricsData) -> MetricsData:
        produced = [m for m in (durations.metric(), hop_latency.metric()) if m is not None]
        return with_produced(data, produced, resource, scope)

    otlp = resolve_otlp(config.otlp, resource_env) if config.enabled else None
    registry = CollectorRegistry(auto_describe=False)
    readers: list[MetricReader] = []
    if config.enabled and config.prometheus.enabled:
        readers.append(AugmentedPrometheusReader(registry, augment))
    if otlp is not None:
        readers.append(otlp_reader(otlp, augment))
        log.info(
            "metrics OTLP export started",
            extra={"endpoint": otlp.endpoint, "interval_s": otlp.export_interval_s},
        )
    provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        views=allow_list_views(config.cardinality.max_series_per_metric),
        shutdown_on_exit=False,
    )
    try:
        meter = provider.get_meter(SCOPE_NAME, _version())
        stage = MetricsStage(
            create_record_instruments(meter),
            durations,
            hop_latency,
            config.cardinality,
            active=config.enabled,
        )
        self_metrics = SelfMetrics(
            meter, stats, clock or WallClock(), stage.folders, config.cardinality.max_health_keys
        )
        endpoint = None
        if config.enabled and config.prometheus.enabled:
            endpoint = PrometheusEndpoint(
                registry, config.prometheus.host, config.prometheus.port, config.prometheus.path
            )
            log.info(
                "metrics endpoint started",
                extra={"url": endpoint.url, "port": endpoint.address[1]},
            )
    except BaseException:
        provider.shutdown()
        raise
    return MetricsRuntime(stage, provider, self_metrics, endpoint, otlp)
