"""Real parts for the metrics tests: a Prometheus server process, an OTLP/HTTP receiver, a
scrape parser and an independent counting oracle over records."""

from __future__ import annotations

import gzip
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from logwatch.metrics.runtime import MetricsRuntime
from parsers import ParseOptions, StreamDecoder
from parsers.record import RECORD_SCHEMA, Record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROMETHEUS_BIN = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- input ------------------------------------------------------------------------------


def decode_files(paths: Iterable[Path]) -> pl.DataFrame:
    """Every record of the files, through the real stream decoder."""
    batches = []
    for path in paths:
        decoder = StreamDecoder(file=str(path), options=ParseOptions())
        chunk = decoder.feed(path.read_bytes())
        tail = decoder.finish()
        assert not chunk.rejections and not tail.rejections, (path, chunk.rejections)
        batches += [chunk.records, tail.records]
    return pl.concat(batches) if batches else pl.DataFrame(schema=RECORD_SCHEMA)


def decode_lines(lines: Iterable[str], file: str = "generated.log") -> pl.DataFrame:
    decoder = StreamDecoder(file=file, options=ParseOptions())
    data = "".join(line + "\n" for line in lines).encode()
    chunk = decoder.feed(data)
    assert not chunk.rejections, chunk.rejections[:3]
    return pl.concat([chunk.records, decoder.finish().records])


def envoy_line(
    *,
    route: str | None,
    cluster: str | None,
    code: int,
    flags: str = "-",
    details: str = "via_upstream",
    duration_ms: int = 5,
    path: str = "/productpage",
    user_agent: str = "curl/8.5.0",
    request_id: str = "7f3c2a9e-1b2d-4c5e-8f90-0a1b2c3d4e5f",
    client: str = "172.18.0.1",
) -> str:
    """An Envoy Gateway default JSON access-log line (keys as in envoy-gateway.jsonl)."""
    import orjson

    return orjson.dumps(
        {
            ":authority": "bookinfo.example.com",
            "bytes_received": 0,
            "bytes_sent": 120,
            "connection_termination_details": None,
            "downstream_local_address": "10.244.1.70:10080",
            "downstream_remote_address": f"{client}:52764",
            "duration": duration_ms,
            "method": "GET",
            "protocol": "HTTP/1.1",
            "requested_server_name": None,
            "response_code": code,
            "response_code_details": details,
            "response_flags": flags,
            "route_name": route,
            "start_time": "2025-07-18T03:33:18.702Z",
            "upstream_cluster": cluster,
            "upstream_host": "10.244.1.68:9080",
            "upstream_local_address": "10.244.1.70:45168",
            "upstream_transport_failure_reason": None,
            "user-agent": user_agent,
            "x-envoy-origin-path": path,
            "x-envoy-upstream-service-time": None,
            "x-forwarded-for": client,
            "x-request-id": request_id,
        }
    ).decode()


def ztunnel_line(
    *,
    direction: str,
    src_workload: str,
    dst_workload: str,
    namespace: str = "default",
    error: str | None = None,
    bytes_sent: int = 100,
    bytes_recv: int = 200,
    src_addr: str = "10.244.1.70:45168",
) -> str:
    """A ztunnel plain-text access line (as in ztunnel.log)."""
    level = "error" if error else "info"
    text = (
        f"2025-07-18T03:33:20.718599Z\t{level}\taccess\tconnection complete\t"
        f'src.addr={src_addr} src.workload="{src_workload}" src.namespace="{namespace}" '
        f"dst.addr=10.244.1.68:15008 dst.hbone_addr=10.244.1.68:9080 "
        f'dst.workload="{dst_workload}" dst.namespace="{namespace}" direction="{direction}" '
        f'bytes_sent={bytes_sent} bytes_recv={bytes_recv} duration="3ms"'
    )
    if error:
        text += f' error="{error}"'
    return text


# -- oracle ------------------------------------------------------------------------------


@dataclass
class Expected:
    """Counts computed record by record in plain Python, independently of the stage."""

    requests_by_route: Counter[str] = field(default_factory=Counter)
    requests_by_cluster: Counter[str] = field(default_factory=Counter)
    status_5xx_by_role: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[tuple[str, str]] = field(default_factory=Counter)  # (route, scope)
    circuit_breaker: Counter[str] = field(default_factory=Counter)  # cluster
    durations: Counter[str] = field(default_factory=Counter)  # route -> count with duration
    duration_sum_s: dict[str, float] = field(default_factory=dict)
    ztunnel_connections: Counter[str] = field(default_factory=Counter)  # direction
    ztunnel_errors: Counter[str] = field(default_factory=Counter)  # error_class
    ztunnel_bytes: Counter[str] = field(default_factory=Counter)  # transmit/receive


def expected_counts(records: pl.DataFrame) -> Expected:
    out = Expected()
    for row in records.iter_rows(named=True):
        record = Record.from_row(row)
        if record.kind == "envoy":
            route = record.route_name or ""
            out.requests_by_route[route] += 1
            out.requests_by_cluster[record.upstream_cluster or ""] += 1
            if record.response_code is not None and 500 <= record.response_code <= 599:
                out.status_5xx_by_role[record.role or ""] += 1
            flags = record.response_flags or ()
            if "RL" in flags:
                scope = {"request_rate_limited": "global", "local_rate_limited": "local"}.get(
                    record.response_code_details or "", "unknown"
                )
                out.rate_limited[(route, scope)] += 1
            if "UO" in flags:
                out.circuit_breaker[record.upstream_cluster or ""] += 1
            if record.duration_ms is not None:
                out.durations[route] += 1
                out.duration_sum_s[route] = (
                    out.duration_sum_s.get(route, 0.0) + record.duration_ms / 1000
                )
        elif record.message in ("connection complete", "connection failed"):
            out.ztunnel_connections[record.direction or ""] += 1
            out.ztunnel_bytes["transmit"] += record.bytes_sent or 0
            out.ztunnel_bytes["receive"] += record.bytes_recv or 0
            if record.error is not None:
                out.ztunnel_errors[record.error_class or "other"] += 1
    return out


# -- scraping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def scrape(url: str) -> list[Sample]:
    response = httpx.get(url, timeout=10.0)
    response.raise_for_status()
    return parse_exposition(response.text)


def parse_exposition(text: str) -> list[Sample]:
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def totals_by(samples: Iterable[Sample], name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """Sum of the samples called ``name``, grouped by ``labels`` (like PromQL sum by)."""
    out: dict[tuple[str, ...], float] = {}
    for sample in samples:
        if sample.name == name:
            key = tuple(sample.labels.get(label, "") for label in labels)
            out[key] = out.get(key, 0.0) + sample.value
    return out


# -- Prometheus --------------------------------------------------------------------------


class PrometheusServer:
    """``/usr/bin/prometheus`` on 127.0.0.1, scraping ``targets`` every second."""

    def __init__(self, workdir: Path, targets: list[str], metrics_path: str = "/metrics") -> None:
        if shutil.which(PROMETHEUS_BIN) is None:
            raise RuntimeError(f"{PROMETHEUS_BIN} is required (Debian package prometheus)")
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        quoted = ", ".join(f"'{target}'" for target in targets)
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: logwatch\n"
            f"    metrics_path: '{metrics_path}'\n"
            f"    static_configs:\n      - targets: [{quoted}]\n"
        )
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    [
                        PROMETHEUS_BIN,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout_s=60.0):
                return
            self.close()
        raise RuntimeError(f"prometheus did not start: {self.log_path.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant query -> {sorted label items (without __name__): value}."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10.0)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        return {
            tuple(sorted((k, v) for k, v in item["metric"].items() if k != "__name__")): float(
                item["value"][1]
            )
            for item in body["data"]["result"]
        }

    def query_until(
        self,
        expr: str,
        done: Callable[[dict[tuple[tuple[str, str], ...], float]], bool],
        timeout_s: float = 30.0,
    ) -> dict[tuple[tuple[str, str], ...], float]:
        """Poll ``expr`` until ``done(result)`` or the timeout; returns the last result."""
        deadline = time.monotonic() + timeout_s
        result = self.query(expr)
        while not done(result) and time.monotonic() < deadline:
            time.sleep(0.5)
            result = self.query(expr)
        return result

    def target_health(self) -> list[str]:
        response = httpx.get(f"{self.url}/api/v1/targets", timeout=10.0)
        return [t["health"] for t in response.json()["data"]["activeTargets"]]

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# -- OTLP --------------------------------------------------------------------------------


class OtlpReceiver:
    """An OTLP/HTTP metrics endpoint on 127.0.0.1 that keeps every decoded request."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver._arrived:
                    receiver.requests.append(request)
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    receiver._arrived.notify_all()
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/metrics"

    def wait_for_requests(self, count: int, timeout_s: float = 20.0) -> None:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout_s)
        assert len(self.requests) >= count, f"{len(self.requests)} OTLP requests, wanted {count}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def otlp_points(
    request: ExportMetricsServiceRequest, name: str
) -> Iterator[tuple[dict[str, str], Any]]:
    """(attributes, data point) of the metric ``name`` in one export request."""
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name != name:
                    continue
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points
                for point in points:
                    attributes = {a.key: a.value.string_value for a in point.attributes}
                    yield attributes, point


def otlp_resource(request: ExportMetricsServiceRequest) -> dict[str, str]:
    return {a.key: a.value.string_value for a in request.resource_metrics[0].resource.attributes}


# -- a runtime with every metric populated ---------------------------------------------------


def populated_stats() -> tuple[Any, Any]:
    """DaemonStats and CorrelationStats where every exported value is non-zero."""
    from logwatch.correlate.stats import CorrelationStats, OriginKey
    from logwatch.daemon_stats import DaemonStats

    stats = DaemonStats(
        lines=120, bytes=64_000, records=100, ignored=15, lines_too_long=1, rotations=2,
        truncations=1, lost_bytes=512, files_followed=3, checkpoint_unix=time.time() - 4.0,
    )  # fmt: skip
    stats.malformed_by_reason.update({"bad json": 3, "unknown format": 2})
    stats.lag_bytes.update({"/var/log/pods/a/0.log": 100, "/var/log/pods/b/0.log": 0})
    stats.alert_deliveries.update({"slack": 4})
    stats.alert_delivery_failures.update({"slack": 1})
    stats.alert_dead_letters.update({"pagerduty": 1})
    correlation = CorrelationStats(hops=40, paths=25)
    correlation.joins.update({"request_id": 10, "l4": 6})
    correlation.ambiguous.update({"l4": 1})
    correlation.unmatched.update({"ztunnel_outbound": 2})
    correlation.failures_by_origin.update(
        {
            OriginKey(
                role="waypoint", pod="waypoint-6f7b665c89-6hppr", signal="circuit_breaker"
            ): 3,
            OriginKey(
                role="waypoint", pod="waypoint-7cc857d87b-8kv2z", signal="circuit_breaker"
            ): 2,
            OriginKey(role="ingress", pod="envoy-1", signal="rate_limited"): 5,
        }
    )
    return stats, correlation


def record_through_correlator(runtime: MetricsRuntime, records: pl.DataFrame) -> None:
    """Feed ``records`` as the daemon does, the correlator before the metrics stage, then
    close every path: the per-hop latency histogram gets its points too."""
    from logwatch.correlate import CorrelationConfig, Correlator

    correlator = Correlator(CorrelationConfig())
    correlator.keep_recent_only(hop_metrics=True)
    runtime.stage.follow_hops(correlator)
    correlator.on_records(records)
    runtime.stage.on_records(records)
    correlator.finalize_all()
    latest = records["ts"].max()
    assert isinstance(latest, datetime)
    runtime.stage.on_watermark(latest)
