"""The record stage, observed through the real scrape endpoint: exact counts from the sample
logs, compared with a record-by-record oracle."""

from __future__ import annotations

import polars as pl
import pytest

from logwatch.correlate import CorrelationConfig, Correlator
from logwatch.metrics.instruments import DURATION_BUCKETS_S
from tests.correlate.records import at, batch, envoy
from tests.metrics.conftest import RuntimeFactory
from tests.metrics.support import (
    FIXTURES,
    decode_files,
    decode_lines,
    envoy_line,
    expected_counts,
    scrape,
    totals_by,
    ztunnel_line,
)

SAMPLE_FILES = [
    FIXTURES / "envoy-gateway.jsonl",
    FIXTURES / "istio-text.log",
    FIXTURES / "ztunnel.log",
]


@pytest.fixture(scope="module")
def sample_records() -> pl.DataFrame:
    return decode_files(SAMPLE_FILES)


def test_sample_logs_counted_exactly(
    make_runtime: RuntimeFactory, sample_records: pl.DataFrame
) -> None:
    runtime = make_runtime()
    # Fed in two uneven batches: counters must add up across batches.
    runtime.stage.on_records(sample_records.head(7))
    runtime.stage.on_records(sample_records.slice(7))
    assert runtime.prometheus is not None
    samples = scrape(runtime.prometheus.url)
    expected = expected_counts(sample_records)

    requests = totals_by(samples, "logwatch_requests_total", "route")
    assert requests == {(r,): float(n) for r, n in expected.requests_by_route.items()}
    clusters = totals_by(samples, "logwatch_requests_total", "upstream_cluster")
    assert clusters == {(c,): float(n) for c, n in expected.requests_by_cluster.items()}
    limited = totals_by(samples, "logwatch_rate_limited_requests_total", "route", "scope")
    assert limited == {key: float(n) for key, n in expected.rate_limited.items()}
    broken = totals_by(samples, "logwatch_circuit_breaker_overflows_total", "upstream_cluster")
    assert broken == {(c,): float(n) for c, n in expected.circuit_breaker.items()}
    status = {
        role: n
        for (role, status_class), n in totals_by(
            samples, "logwatch_requests_total", "role", "status_class"
        ).items()
        if status_class == "5xx"
    }
    assert status == {r: float(n) for r, n in expected.status_5xx_by_role.items()}

    connections = totals_by(samples, "logwatch_ztunnel_connections_total", "direction")
    assert connections == {(d,): float(n) for d, n in expected.ztunnel_connections.items()}
    errors = totals_by(samples, "logwatch_ztunnel_errors_total", "error_class")
    assert errors == {(c,): float(n) for c, n in expected.ztunnel_errors.items()}
    io = totals_by(samples, "logwatch_ztunnel_io_bytes_total", "network_io_direction")
    assert io == {(d,): float(n) for d, n in expected.ztunnel_bytes.items() if n}

    counts = totals_by(samples, "logwatch_request_duration_seconds_count", "route")
    assert counts == {(r,): float(n) for r, n in expected.durations.items()}
    sums = totals_by(samples, "logwatch_request_duration_seconds_sum", "route")
    assert sums.keys() == counts.keys()
    for (route,), total in sums.items():
        assert total == pytest.approx(expected.duration_sum_s[route])


def test_sample_logs_documented_facts(make_runtime: RuntimeFactory) -> None:
    """Facts stated in tests/fixtures/README.md for envoy-gateway.jsonl: RL lines 4 (global),
    5 and 20 (local); UO lines 13 and 17."""
    runtime = make_runtime()
    runtime.stage.on_records(decode_files([FIXTURES / "envoy-gateway.jsonl"]))
    assert runtime.prometheus is not None
    samples = scrape(runtime.prometheus.url)
    scopes = totals_by(samples, "logwatch_rate_limited_requests_total", "scope")
    assert scopes == {("global",): 1.0, ("local",): 2.0}
    overflows = totals_by(samples, "logwatch_circuit_breaker_overflows_total", "upstream_cluster")
    assert sum(overflows.values()) == 2.0
    assert sum(totals_by(samples, "logwatch_requests_total").values()) == 23.0


def test_duration_buckets_follow_le_semantics(make_runtime: RuntimeFactory) -> None:
    # 5 ms sits exactly on the first bound (le="0.005"); 6 ms is in the next bucket;
    # 20 s is above every bound (+Inf only).
    durations = [0, 5, 6, 100, 20_000]
    lines = [envoy_line(route="r", cluster="c", code=200, duration_ms=d) for d in durations]
    runtime = make_runtime()
    runtime.stage.on_records(decode_lines(lines))
    assert runtime.prometheus is not None
    buckets = totals_by(
        scrape(runtime.prometheus.url), "logwatch_request_duration_seconds_bucket", "le"
    )
    for bound in [*DURATION_BUCKETS_S, float("inf")]:
        label = "+Inf" if bound == float("inf") else str(bound)
        below = sum(1 for d in durations if d / 1000 <= bound)
        assert buckets[(label,)] == below, label


def test_status_class_and_flag_sets(make_runtime: RuntimeFactory) -> None:
    lines = [
        envoy_line(route="r", cluster="c", code=0, flags="DC"),
        envoy_line(route="r", cluster="c", code=503, flags="UF,URX"),
        envoy_line(route="r", cluster="c", code=503, flags="URX,UF"),
        envoy_line(route="r", cluster="c", code=204),
        envoy_line(route="r", cluster="c", code=999),
    ]
    runtime = make_runtime()
    runtime.stage.on_records(decode_lines(lines))
    assert runtime.prometheus is not None
    got = totals_by(
        scrape(runtime.prometheus.url), "logwatch_requests_total", "status_class", "response_flags"
    )
    assert got == {
        ("none", "DC"): 1.0,
        ("5xx", "UF,URX"): 2.0,
        ("2xx", ""): 1.0,
        ("other", ""): 1.0,
    }


def test_ztunnel_local_side_is_the_workload(make_runtime: RuntimeFactory) -> None:
    lines = [
        ztunnel_line(direction="outbound", src_workload="client", dst_workload="server"),
        ztunnel_line(direction="inbound", src_workload="client", dst_workload="server"),
        ztunnel_line(
            direction="inbound",
            src_workload="client",
            dst_workload="server",
            error="connection closed due to policy rejection: allow policies exist, but none allowed",
        ),
    ]
    runtime = make_runtime()
    runtime.stage.on_records(decode_lines(lines))
    assert runtime.prometheus is not None
    samples = scrape(runtime.prometheus.url)
    got = totals_by(samples, "logwatch_ztunnel_connections_total", "direction", "workload")
    assert got == {("outbound", "client"): 1.0, ("inbound", "server"): 2.0}
    denied = totals_by(samples, "logwatch_ztunnel_errors_total", "workload", "error_class")
    assert denied == {("server", "policy_denied"): 1.0}


def test_inactive_stage_records_nothing(
    make_runtime: RuntimeFactory, sample_records: pl.DataFrame
) -> None:
    from tests.metrics.conftest import loopback_config

    runtime = make_runtime(loopback_config(enabled=False))
    runtime.stage.on_records(sample_records)
    assert runtime.prometheus is None
    assert runtime.stage.routes.admitted == frozenset()


def test_hop_added_latency_comes_from_the_hops_the_correlator_finalizes(
    make_runtime: RuntimeFactory,
) -> None:
    """The daemon's wiring: the correlator keeps hop metrics only, the metrics stage drains
    them at each watermark (after the correlator, as the pipeline orders them)."""
    runtime = make_runtime()
    correlator = Correlator(CorrelationConfig())
    correlator.keep_recent_only(hop_metrics=True)
    runtime.stage.follow_hops(correlator)
    waypoint = {"role": "waypoint", "file": "wp.log", "route_name": "wp"}
    records = batch(
        [
            # ingress 20 ms around a waypoint of 12 ms whose upstream took 9: 8 ms and 3 ms
            envoy(0, "m", duration_ms=20, route_name="in"),
            envoy(0.001, "m", duration_ms=12, upstream_service_time_ms=9, **waypoint),
            # clocks and rounding can make an outer hop look shorter: counted as 0
            envoy(1, "n", duration_ms=5, route_name="in"),
            envoy(1.001, "n", duration_ms=7, upstream_service_time_ms=7, **waypoint),
            # the last hop without an upstream service time adds an unknown latency
            envoy(2, "alone", duration_ms=4, route_name="in"),
        ]
    )
    for stage in (correlator, runtime.stage):
        stage.on_records(records)
    assert runtime.prometheus is not None
    name = "logwatch_correlation_hop_added_latency_seconds"
    assert totals_by(scrape(runtime.prometheus.url), f"{name}_count") == {}  # paths still open
    for stage in (correlator, runtime.stage):
        stage.on_watermark(at(100))
    samples = scrape(runtime.prometheus.url)
    assert totals_by(samples, f"{name}_count", "role", "route") == {
        ("ingress", "in"): 2.0,
        ("waypoint", "wp"): 2.0,
    }
    sums = totals_by(samples, f"{name}_sum", "role", "route")
    assert sums == pytest.approx({("ingress", "in"): 0.008, ("waypoint", "wp"): 0.003})
    buckets = totals_by(samples, f"{name}_bucket", "role", "le")
    assert buckets[("ingress", "0.005")] == 1.0  # the 0
    assert buckets[("ingress", "0.01")] == 2.0  # and the 8 ms
    assert correlator.drain_paths() == []  # paths are not kept for anyone
