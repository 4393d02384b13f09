"""The two ways metrics leave the process: a Prometheus scrape endpoint and OTLP push.

Both are OTel ``MetricReader``s on the runtime's one MeterProvider; both append the metrics
logwatch aggregates outside the SDK (the duration histogram, see histogram.py) to what the SDK
collects, through ``augment``.

- Prometheus: ``PrometheusMetricReader`` on a private ``CollectorRegistry`` (several runtimes
  may live in one process, e.g. tests), served by a small threaded HTTP server that answers
  ``GET <path>`` only. The server's thread is a daemon thread; ``close`` stops it and frees
  the port, and is idempotent.
- OTLP: ``OTLPMetricExporter`` (http/protobuf) under a ``PeriodicExportingMetricReader``;
  shutting the reader down exports one last time (bounded by the export timeout).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricsData,
    PeriodicExportingMetricReader,
)
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from logwatch.metrics.otlp_env import OtlpTarget

log = logging.getLogger(__name__)

Augment = Callable[[MetricsData], MetricsData]

# The duration histogram is kept cumulative (histogram.py); every stream uses the same
# temporality so that one export is coherent whatever OTEL_* temporality preference is set.
CUMULATIVE: dict[type, AggregationTemporality] = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (
        Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter,
        ObservableGauge,
    )
}  # fmt: skip


class AugmentedPrometheusReader(PrometheusMetricReader):
    def __init__(self, registry: CollectorRegistry, augment: Augment, **kwargs: Any) -> None:
        super().__init__(registry=registry, **kwargs)
        self._augment = augment

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        super()._receive_metrics(self._augment(metrics_data), timeout_millis, **kwargs)


class AugmentedPeriodicReader(PeriodicExportingMetricReader):
    def __init__(self, augment: Augment, **kwargs: Any) -> None:
        # Set before super().__init__: that starts the export thread, which may collect.
        self._augment = augment
        super().__init__(**kwargs)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        super()._receive_metrics(self._augment(metrics_data), timeout_millis, **kwargs)


def otlp_reader(target: OtlpTarget, augment: Augment) -> AugmentedPeriodicReader:
    exporter = OTLPMetricExporter(
        endpoint=target.endpoint,
        headers=dict(target.headers),
        timeout=target.timeout_s,
        preferred_temporality=CUMULATIVE,
    )
    return AugmentedPeriodicReader(
        augment,
        exporter=exporter,
        export_interval_millis=target.export_interval_s * 1000.0,
        export_timeout_millis=target.timeout_s * 1000.0,
    )


class PrometheusEndpoint:
    """``GET http://host:port<path>`` -> the registry in Prometheus text format 0.0.4.

    Binding happens in the constructor (an ``OSError`` such as "address in use" surfaces at
    start, not later); ``address`` is the bound (host, port), useful with port 0.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int, path: str) -> None:
        handler = _handler_for(registry, path)
        server_class = ThreadingHTTPServer
        if ":" in host:
            server_class = _IPv6Server
        try:
            self._server = server_class((host, port), handler)
        except OSError as exc:
            # Name the address: "address already in use" alone does not say which one.
            raise OSError(exc.errno, f"metrics endpoint {host}:{port}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="logwatch-metrics-http",
            daemon=True,
        )
        self._thread.start()
        self._closed = False
        self.path = path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{self.path}"

    def close(self, timeout_s: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout_s)


class _IPv6Server(ThreadingHTTPServer):
    import socket

    address_family = socket.AF_INET6


def _handler_for(registry: CollectorRegistry, path: str) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != path:
                self.send_error(404, "not found")
                return
            try:
                body = generate_latest(registry)
            except Exception:  # a failing collection must not kill the endpoint thread
                log.exception("metrics collection failed")
                self.send_error(500, "collection failed")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # One line per scrape would drown the daemon's own logs.
            return

    return MetricsHandler
