"""`logwatch replay --output json` against the scenario's ground truth: every number."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from logwatch.config import Config
from logwatch.pipeline.filters import record_selection
from logwatch.pipeline.replay import replay
from tests.report.conftest import Node, run_logwatch
from tests.scenario import START, Truth, nearest_rank

KNOWN_SIGNALS = {
    "rate_limited", "rate_limit_error", "circuit_breaker", "retry_limit", "no_healthy_upstream",
    "upstream_connect_failure", "upstream_reset", "upstream_timeout", "no_route", "authz_denied",
    "downstream_disconnect", "fault_injected", "connection_error",
}  # fmt: skip


@pytest.fixture(scope="module")
def doc(node: Node) -> dict[str, Any]:
    done = run_logwatch("replay", str(node.root), "--output", "json")
    assert done.returncode == 0, done.stderr.decode()
    parsed: dict[str, Any] = orjson.loads(done.stdout)
    return parsed


def ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def by_requests(items: dict[str | None, list[int]]) -> list[str | None]:
    return [
        k for k, _ in sorted(items.items(), key=lambda kv: (-kv[1][0], kv[0] is None, kv[0] or ""))
    ]


def test_input_counts_every_file_and_line(doc: dict[str, Any], node: Node) -> None:
    t = node.truth
    assert doc["input"] == {
        "files": t.files,
        "lines": t.lines,
        "records": t.records,
        "ignored": t.ignored,
        "malformed": t.malformed,
    }
    assert t.files == 9  # three pods, each rotated twice (one .gz each)


def test_time_range_and_kinds(doc: dict[str, Any], node: Node) -> None:
    t = node.truth
    assert t.first is not None and t.last is not None
    assert doc["time_range"] == {"start": ms(t.first), "end": ms(t.last)}
    assert doc["records_by_kind"] == dict(t.records_by_kind)
    assert list(doc["records_by_kind"]) == ["envoy", "ztunnel"]  # largest first


def test_signals_and_flags(doc: dict[str, Any], node: Node) -> None:
    t = node.truth
    assert set(doc["signals"]) == KNOWN_SIGNALS
    for name in KNOWN_SIGNALS:
        assert doc["signals"][name] == t.signals.get(name, 0), name
    counts = list(doc["signals"].values())
    assert counts == sorted(counts, reverse=True)
    assert doc["response_flags"] == {**{"RL": 0, "UO": 0}, **t.flags}
    assert list(doc["response_flags"].values()) == sorted(
        doc["response_flags"].values(), reverse=True
    )


def test_routes_every_number_and_order(doc: dict[str, Any], node: Node) -> None:
    t = node.truth
    expected = [
        {
            "route_name": name,
            "requests": r.requests,
            "rate_limited": r.rate_limited,
            "circuit_breaker": r.circuit_breaker,
            "status_5xx": r.status_5xx,
            "p50_ms": nearest_rank(r.durations, 50),
            "p99_ms": nearest_rank(r.durations, 99),
        }
        for name, r in t.routes.items()
    ]
    expected.sort(
        key=lambda r: (
            -int(r["requests"] or 0),
            r["route_name"] is None,
            str(r["route_name"] or ""),
        )
    )
    assert doc["routes"] == expected
    assert any(r["route_name"] is None for r in doc["routes"])  # no-route 404s are kept


def test_upstream_clusters(doc: dict[str, Any], node: Node) -> None:
    clusters = node.truth.clusters()
    expected = [
        {
            "upstream_cluster": name,
            "requests": clusters[name][0],
            "circuit_breaker": clusters[name][2],
            "status_5xx": clusters[name][3],
        }
        for name in by_requests(clusters)
    ]
    assert doc["upstream_clusters"] == expected


def test_ztunnel(doc: dict[str, Any], node: Node) -> None:
    t = node.truth
    assert doc["ztunnel"]["connections"] == t.ztunnel_connections
    assert doc["ztunnel"]["errors"] == sum(t.ztunnel_errors.values())
    assert doc["ztunnel"]["by_error_class"] == dict(t.ztunnel_errors)
    assert list(doc["ztunnel"]["by_error_class"].values()) == sorted(
        t.ztunnel_errors.values(), reverse=True
    )


def _window_routes(truth: Truth, first: int, last: int) -> dict[str | None, list[int]]:
    out: dict[str | None, list[int]] = {}
    for (minute, route), counts in truth.route_minutes.items():
        if START + timedelta(minutes=first) <= minute < START + timedelta(minutes=last):
            row = out.setdefault(route, [0, 0, 0, 0])
            out[route] = [a + b for a, b in zip(row, counts, strict=True)]
    return out


def test_since_until_keep_only_that_window(node: Node) -> None:
    since, until = START + timedelta(minutes=8), START + timedelta(minutes=11)
    report = replay(
        [str(node.root)], config=Config(), select=record_selection(since=since, until=until)
    )
    expected = _window_routes(node.truth, 8, 11)
    got = {
        r.route_name: [r.requests, r.rate_limited, r.circuit_breaker, r.status_5xx]
        for r in report.routes
    }
    assert got == expected
    assert report.time_start is not None and report.time_start >= since
    assert report.time_end is not None and report.time_end < until
    assert report.input.records == node.truth.records  # input counts all parsed records


def test_route_filter_is_a_glob_on_route_name(node: Node) -> None:
    report = replay(
        [str(node.root)],
        config=Config(),
        select=record_selection(routes=("httproute/shop/checkout/*",)),
    )
    assert [r.route_name for r in report.routes] == [
        "httproute/shop/checkout/rule/0/match/0/shop_example_com"
    ]
    assert report.routes[0].requests == node.truth.routes[report.routes[0].route_name].requests
    assert dict(report.records_by_kind) == {"envoy": report.routes[0].requests}


def test_namespace_filter_matches_pod_or_ztunnel_workload_namespace(node: Node) -> None:
    report = replay(
        [str(node.root)], config=Config(), select=record_selection(namespaces=("shop",))
    )
    # the waypoint runs in "shop"; every ztunnel connection goes to a "shop" workload
    assert dict(report.records_by_kind) == {
        "envoy": node.truth.routes["default"].requests,
        "ztunnel": node.truth.records_by_kind["ztunnel"],
    }


def test_cli_filters_and_bad_time_bound(node: Node) -> None:
    done = run_logwatch(
        "replay",
        str(node.root),
        "-o",
        "json",
        "--since",
        "2025-07-18T03:08:00Z",
        "--until",
        "2025-07-18T03:11:00Z",
    )
    assert done.returncode == 0, done.stderr.decode()
    routes = {r["route_name"]: r["requests"] for r in orjson.loads(done.stdout)["routes"]}
    assert routes == {k: v[0] for k, v in _window_routes(node.truth, 8, 11).items()}
    bad = run_logwatch("replay", str(node.root), "--since", "yesterday-ish")
    assert bad.returncode == 2
    assert b"neither an RFC 3339 time" in bad.stderr


def test_missing_path_is_a_clear_error(tmp_path: Any) -> None:
    done = run_logwatch("replay", str(tmp_path / "nope.log"))
    assert done.returncode == 1
    assert b"no such file or directory" in done.stderr


def test_alerts_section_from_the_rule_stage(doc: dict[str, Any]) -> None:
    # the built-in rules see the scenario's bursts; each alert has the contract's keys
    assert doc["alerts"], "the checkout rate-limit burst must raise an alert"
    for alert in doc["alerts"]:
        assert set(alert) >= {"rule", "labels", "starts_at", "ends_at", "events"}
        assert alert["events"] > 0


def test_containers_symlinks_alone_bring_the_rotated_history(node: Node) -> None:
    # /var/log/containers holds links to the live files only; their rotated (and gzipped)
    # predecessors next to the targets are part of the replay
    report = replay([str(node.root / "containers")], config=Config())
    t = node.truth
    assert (report.input.files, report.input.lines, report.input.records) == (
        t.files,
        t.lines,
        t.records,
    )
