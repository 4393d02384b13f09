"""End to end: `logwatch run` as a subprocess tails sample logs; a real Prometheus scrapes the
daemon's endpoint and its HTTP API reports the exact counts per route and cluster."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.process import DaemonProcess
from tests.metrics.support import (
    FIXTURES,
    PrometheusServer,
    decode_files,
    expected_counts,
    free_port,
)

SAMPLE_FILES = ["envoy-gateway.jsonl", "istio-text.log", "ztunnel.log"]


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def _by(result: dict[tuple[tuple[str, str], ...], float], label: str) -> dict[str, float]:
    return {dict(key).get(label, ""): value for key, value in result.items()}


def test_daemon_metrics_scraped_by_prometheus(
    tmp_path: Path,
    start_prometheus: Callable[..., PrometheusServer],
    daemons: list[DaemonProcess],
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    prometheus = start_prometheus([f"127.0.0.1:{port}"])
    daemon = DaemonProcess(
        tmp_path,
        "--state-dir", str(tmp_path / "state"),
        "--source", str(logs / "*"),
        "--health-listen", "127.0.0.1:0",
        env={"LOGWATCH_METRICS__PROMETHEUS__LISTEN": f"127.0.0.1:{port}"},
    ).start()  # fmt: skip
    daemons.append(daemon)
    daemon.wait_log("metrics endpoint started")
    for name in SAMPLE_FILES:
        shutil.copy(FIXTURES / name, logs / name)

    # The oracle decodes the same files (as the daemon sees them: same paths).
    expected = expected_counts(decode_files([logs / name for name in SAMPLE_FILES]))
    want = {route: float(n) for route, n in expected.requests_by_route.items()}
    got = prometheus.query_until(
        "sum by (route) (logwatch_requests_total)", lambda r: _by(r, "route") == want
    )
    assert _by(got, "route") == want
    want_clusters = {c: float(n) for c, n in expected.circuit_breaker.items()}
    got = prometheus.query_until(
        "sum by (upstream_cluster) (logwatch_circuit_breaker_overflows_total)",
        lambda r: _by(r, "upstream_cluster") == want_clusters,
    )
    assert _by(got, "upstream_cluster") == want_clusters
    want_limits = {f"{r}|{s}": float(n) for (r, s), n in expected.rate_limited.items()}
    got = prometheus.query_until(
        "sum by (route, scope) (logwatch_rate_limited_requests_total)",
        lambda r: (
            {f"{dict(k).get('route', '')}|{dict(k)['scope']}": v for k, v in r.items()}
            == want_limits
        ),
    )
    assert {
        f"{dict(k).get('route', '')}|{dict(k)['scope']}": v for k, v in got.items()
    } == want_limits
    lines = sum(len((FIXTURES / name).read_bytes().splitlines()) for name in SAMPLE_FILES)
    got = prometheus.query_until(
        "sum(logwatch_input_lines_total)", lambda r: list(r.values()) == [float(lines)]
    )
    assert list(got.values()) == [float(lines)]

    # The daemon's correlator is plugged in: its totals are exported (values depend on when
    # paths finalize, presence does not).
    assert prometheus.query_until("logwatch_correlation_hops_total", bool)

    daemon.signal(signal.SIGTERM)
    assert daemon.wait(20) == 0
