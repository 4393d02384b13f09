"""Cardinality by design: attacker-controlled values cannot grow the number of series."""

from __future__ import annotations

import random

import pytest

from logwatch.metrics.cardinality import MISSING, OVERFLOW, BoundedValues
from tests.metrics.conftest import RuntimeFactory, loopback_config
from tests.metrics.support import decode_lines, envoy_line, scrape, ztunnel_line

FLAG_CODES = ["UH", "UF", "UO", "NR", "URX", "UC", "DC", "LH", "UT", "LR", "UR", "RL", "UAEX"]
CAPS = {
    "max_routes": 50,
    "max_clusters": 40,
    "max_namespaces": 10,
    "max_workloads": 30,
    "max_flag_sets": 8,
}


def attack_lines(wave: int, count: int) -> list[str]:
    """Every line with its own route, cluster, path, user agent, request id, client IP,
    namespace and workload; random flag combinations; fixed seed."""
    rng = random.Random(wave)
    lines = []
    for i in range(count):
        tag = f"{wave}-{i}"
        if i % 4 == 3:
            lines.append(
                ztunnel_line(
                    direction="inbound",
                    src_workload=f"attacker-src-{tag}",
                    dst_workload=f"attacker-dst-{tag}",
                    namespace=f"ns-{tag}",
                    src_addr=f"10.{wave}.{i // 250 % 250}.{i % 250}:4{i % 1000:03d}",
                    error="connection closed due to policy rejection: allow policies exist, but none allowed"
                    if i % 8 == 7
                    else None,
                )
            )
            continue
        flags = ",".join(sorted(rng.sample(FLAG_CODES, rng.randint(0, 3)))) or "-"
        lines.append(
            envoy_line(
                route=f"route-{tag}",
                cluster=f"cluster-{tag}",
                code=rng.choice([200, 429, 503, 504]),
                flags=flags,
                details=f"details-{tag}",
                duration_ms=rng.randint(0, 20_000),
                path=f"/secret-path-{tag}?token=abc",
                user_agent=f"agent-{tag}",
                request_id=f"rid-{tag}",
                client=f"192.0.{i // 250 % 250}.{i % 250}",
            )
        )
    return lines


def label_values(samples: list, name: str, label: str) -> set[str]:  # type: ignore[type-arg]
    return {s.labels.get(label, "") for s in samples if s.name == name}


def test_100k_attacker_values_keep_series_bounded(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(loopback_config(cardinality=CAPS))
    assert runtime.prometheus is not None
    waves = []
    for wave, size in ((1, 100_000), (2, 20_000)):
        records = decode_lines(attack_lines(wave, size))
        for offset in range(0, records.height, 20_000):  # batches, as the daemon feeds them
            runtime.stage.on_records(records.slice(offset, 20_000))
        text = _text(runtime.prometheus.url)
        waves.append((records, text))

    records, text = waves[-1]
    samples = scrape(runtime.prometheus.url)
    envoy_total = sum(int((r.get_column("kind") == "envoy").sum()) for r, _ in waves)
    # Folded, never dropped: every request is still counted.
    assert sum(s.value for s in samples if s.name == "logwatch_requests_total") == envoy_total

    routes = label_values(samples, "logwatch_requests_total", "route")
    assert len(routes - {OVERFLOW}) == CAPS["max_routes"] and OVERFLOW in routes
    clusters = label_values(samples, "logwatch_requests_total", "upstream_cluster")
    assert len(clusters - {OVERFLOW}) == CAPS["max_clusters"] and OVERFLOW in clusters
    flag_sets = label_values(samples, "logwatch_requests_total", "response_flags")
    assert len(flag_sets - {OVERFLOW, MISSING}) <= CAPS["max_flag_sets"]
    workloads = label_values(samples, "logwatch_ztunnel_connections_total", "workload")
    assert len(workloads - {OVERFLOW}) == CAPS["max_workloads"]
    namespaces = label_values(samples, "logwatch_ztunnel_connections_total", "namespace")
    assert len(namespaces - {OVERFLOW}) == CAPS["max_namespaces"]

    # The series count: bounded by the caps, not by the 120,000 distinct inputs, and the
    # second wave of fresh values adds no route/cluster/workload series at all.
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    first_wave_series = [
        line for line in waves[0][1].splitlines() if line and not line.startswith("#")
    ]
    statuses = label_values(samples, "logwatch_requests_total", "status_class")
    roles = label_values(samples, "logwatch_requests_total", "role")
    assert len(statuses) <= 4 and len(roles) <= 5
    # A route or a cluster is admitted, or both overflow: (routes + clusters + 1) pairs.
    pairs = CAPS["max_routes"] + CAPS["max_clusters"] + 1
    request_bound = pairs * (CAPS["max_flag_sets"] + 2) * len(statuses) * len(roles)
    assert sum(1 for s in samples if s.name == "logwatch_requests_total") <= request_bound
    assert len(series) < 25_000
    first_routes = {
        line.split('route="', 1)[1].split('"', 1)[0]
        for line in first_wave_series
        if line.startswith("logwatch_requests_total")
    }
    assert first_routes == routes

    # Never attached, not even folded: paths, user agents, request ids, client IPs.
    for forbidden in ("secret-path", "agent-", "rid-", "192.0.", "details-", "10.1.", "token"):
        assert forbidden not in text, forbidden
    assert runtime.stage.routes.folded > 0
    overflowed = {
        s.labels["attribute"]: s.value
        for s in samples
        if s.name == "logwatch_metrics_overflowed_total"
    }
    assert overflowed["route"] > 0 and overflowed["workload"] > 0


def _text(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=30.0).text


def test_bounded_values_admit_first_come_and_never_evict() -> None:
    folder = BoundedValues("route", cap=3)
    assert [folder.fold(v) for v in ("a", None, "b", "a", "")] == ["a", MISSING, "b", "a", MISSING]
    assert [folder.fold(v) for v in ("c", "d", "e", "b")] == ["c", OVERFLOW, OVERFLOW, "b"]
    assert folder.admitted == {"a", "b", "c"}
    assert folder.fold("d") == OVERFLOW and folder.fold("a") == "a"
    assert folder.folded == 3


def test_long_values_are_cut_before_folding() -> None:
    folder = BoundedValues("route", cap=2, max_length=8)
    assert folder.fold("x" * 100) == "x" * 8
    assert folder.fold("x" * 50) == "x" * 8
    assert folder.admitted == {"x" * 8}


def test_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cap"):
        BoundedValues("route", cap=0)


def test_views_drop_attributes_outside_the_allow_list(make_runtime: RuntimeFactory) -> None:
    """Even a caller bypassing the stage cannot attach request ids: the SDK view drops them."""
    runtime = make_runtime()
    assert runtime.prometheus is not None
    counter = runtime.stage._instruments.requests
    for i in range(100):
        counter.add(1, {"role": "ingress", "request_id": f"rid-{i}", "path": f"/p/{i}"})
    samples = [s for s in scrape(runtime.prometheus.url) if s.name == "logwatch_requests_total"]
    assert len(samples) == 1 and samples[0].value == 100.0
    assert "request_id" not in samples[0].labels and "path" not in samples[0].labels
