"""deploy/grafana/logwatch.json: only metric names the exporter really produces, and every
query is valid PromQL that returns data from a real Prometheus."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from logwatch.metrics.instruments import METRICS
from tests.metrics.conftest import RuntimeFactory
from tests.metrics.support import (
    FIXTURES,
    PrometheusServer,
    decode_files,
    populated_stats,
    record_through_correlator,
    scrape,
)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "logwatch.json"
SAMPLE_FILES = [
    FIXTURES / "envoy-gateway.jsonl",
    FIXTURES / "istio-text.log",
    FIXTURES / "ztunnel.log",
    FIXTURES / "cri.log",
    FIXTURES / "cri-ztunnel.log",
]
PROMQL_WORDS = {
    "sum", "by", "without", "rate", "increase", "irate", "histogram_quantile", "topk", "max",
    "min", "avg", "count", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "label_values",
}  # fmt: skip


def dashboard_exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return exprs


def concrete(expr: str) -> str:
    """The query as Grafana would send it (template variables filled in)."""
    return expr.replace("$__rate_interval", "1m").replace("$role", ".*")


def metric_names(expr: str) -> set[str]:
    """Identifiers that are series selectors: not functions, keywords, labels or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if match.group() in PROMQL_WORDS or following.startswith("("):
            continue
        names.add(match.group())
    return names


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in clause.split(",") if label.strip()}
    for matcher in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matcher))
    return labels


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{role=~"x|y"}[5m]))) / on(route) b_total'
    assert metric_names(expr) == {"a_bucket", "b_total"}
    assert grouping_labels(expr) == {"le", "route", "role"}


def test_dashboard_uses_only_exported_names_and_labels(make_runtime: RuntimeFactory) -> None:
    stats, correlation = populated_stats()
    runtime = make_runtime(stats=stats)
    runtime.observe_correlation(correlation)
    record_through_correlator(runtime, decode_files(SAMPLE_FILES))
    assert runtime.prometheus is not None
    samples = scrape(runtime.prometheus.url)
    exported = {sample.name for sample in samples}
    labels = {label for sample in samples for label in sample.labels}
    used = set().union(*(metric_names(expr) for expr in dashboard_exprs()))
    assert used, "no metric names found in the dashboard"
    assert used <= exported, sorted(used - exported)
    grouped = set().union(*(grouping_labels(expr) for expr in dashboard_exprs()))
    assert grouped <= labels, sorted(grouped - labels)
    # The table the README is generated from lists exactly what a scrape shows.
    listed = {name for spec in METRICS for name in spec.prometheus_names}
    logwatch_exported = {name for name in exported if name.startswith("logwatch_")}
    assert listed == logwatch_exported, listed ^ logwatch_exported


def test_every_dashboard_query_returns_data_from_prometheus(
    make_runtime: RuntimeFactory, start_prometheus: Callable[..., PrometheusServer]
) -> None:
    stats, correlation = populated_stats()
    runtime = make_runtime(stats=stats)
    runtime.observe_correlation(correlation)
    assert runtime.prometheus is not None
    host, port = runtime.prometheus.address
    prometheus = start_prometheus([f"{host}:{port}"])
    record_through_correlator(runtime, decode_files(SAMPLE_FILES))
    # rate() needs two samples of every series inside the window.
    prometheus.query_until(
        "count(count_over_time(logwatch_requests_total[1m]) >= 3)",
        lambda r: bool(r),
        timeout_s=40.0,
    )
    empty = []
    for expr in dashboard_exprs():
        response = httpx.get(
            f"{prometheus.url}/api/v1/query", params={"query": concrete(expr)}, timeout=10.0
        )
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (expr, body)
        if not body["data"]["result"]:
            empty.append(expr)
    assert not empty, empty


def test_dashboard_is_importable_grafana_json() -> None:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"datasource", "role"} <= variables
    titles = set()
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        titles.add(panel["title"].lower())
        assert panel["datasource"]["uid"] == "${datasource}"
        assert all(target["refId"] for target in panel["targets"])
    # The views the dashboard exists for.
    for topic in ("rate-limited", "circuit-breaker", "5xx by hop", "failure origins", "denials"):
        assert any(topic in title for title in titles), topic
