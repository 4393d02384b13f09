"""A real Prometheus scrapes the endpoint; its HTTP API must report the exact counts."""

from __future__ import annotations

from collections.abc import Callable

from tests.metrics.conftest import RuntimeFactory, loopback_config
from tests.metrics.support import (
    FIXTURES,
    PrometheusServer,
    decode_files,
    decode_lines,
    envoy_line,
    expected_counts,
)

SAMPLE_FILES = [
    FIXTURES / "envoy-gateway.jsonl",
    FIXTURES / "istio-text.log",
    FIXTURES / "ztunnel.log",
]


def _by(result: dict[tuple[tuple[str, str], ...], float], label: str) -> dict[str, float]:
    return {dict(key).get(label, ""): value for key, value in result.items()}


def test_prometheus_scrapes_exact_counts(
    make_runtime: RuntimeFactory, start_prometheus: Callable[..., PrometheusServer]
) -> None:
    records = decode_files(SAMPLE_FILES)
    # A second wave of generated lines, so that counts move between scrapes.
    generated = decode_lines(
        [envoy_line(route="checkout", cluster="payments", code=429, flags="RL",
                    details="request_rate_limited") for _ in range(40)]
        + [envoy_line(route="checkout", cluster="payments", code=503, flags="UO",
                      details="upstream_reset_before_response_started{overflow}")
           for _ in range(7)]
    )  # fmt: skip
    runtime = make_runtime(loopback_config(prometheus={"path": "/custom-metrics"}))
    assert runtime.prometheus is not None
    host, port = runtime.prometheus.address
    prometheus = start_prometheus([f"{host}:{port}"], metrics_path="/custom-metrics")

    runtime.stage.on_records(records)
    expected = expected_counts(records)
    want_routes = {route: float(n) for route, n in expected.requests_by_route.items()}
    got = prometheus.query_until(
        "sum by (route) (logwatch_requests_total)", lambda r: _by(r, "route") == want_routes
    )
    assert _by(got, "route") == want_routes
    assert prometheus.target_health() == ["up"]

    runtime.stage.on_records(generated)
    expected = expected_counts(records.vstack(generated))
    want_limits = {
        f"{route}|{scope}": float(n) for (route, scope), n in expected.rate_limited.items()
    }

    def limits(result: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
        return {
            f"{dict(k).get('route', '')}|{dict(k).get('scope', '')}": v for k, v in result.items()
        }

    got = prometheus.query_until(
        "sum by (route, scope) (logwatch_rate_limited_requests_total)",
        lambda r: limits(r) == want_limits,
    )
    assert limits(got) == want_limits
    want_clusters = {cluster: float(n) for cluster, n in expected.circuit_breaker.items()}
    got = prometheus.query_until(
        "sum by (upstream_cluster) (logwatch_circuit_breaker_overflows_total)",
        lambda r: _by(r, "upstream_cluster") == want_clusters,
    )
    assert _by(got, "upstream_cluster") == want_clusters
    assert want_clusters["payments"] == 7.0
    want_cluster_requests = {c: float(n) for c, n in expected.requests_by_cluster.items()}
    got = prometheus.query_until(
        "sum by (upstream_cluster) (logwatch_requests_total)",
        lambda r: _by(r, "upstream_cluster") == want_cluster_requests,
    )
    assert _by(got, "upstream_cluster") == want_cluster_requests
    # The histogram is a real Prometheus histogram: histogram_quantile works on it.
    quantile = prometheus.query(
        'histogram_quantile(0.5, sum by (le) (logwatch_request_duration_seconds_bucket{route="checkout"}))'
    )
    assert list(quantile.values()) == [0.0025]  # every generated line took 5 ms: (0, 0.005]
