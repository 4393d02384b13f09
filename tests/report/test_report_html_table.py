"""The HTML page (self-contained, charts carry the true per-minute counts) and the table."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from tests.report.conftest import Node, run_logwatch
from tests.scenario import nearest_rank


class PageScan(HTMLParser):
    """Collects the embedded chart data, element counts and any external references."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.polylines_by_chart: Counter[str] = Counter()
        self.external: list[str] = []
        self.chart_json = ""
        self._in_data = False
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags[tag] += 1
        for name in ("src", "href"):
            if attributes.get(name):
                self.external.append(f"{tag} {name}={attributes[name]}")
        if tag == "link":
            self.external.append("link")
        if tag == "script":
            self._in_data = attributes.get("id") == "logwatch-chart-data"
            assert attributes.get("type") == "application/json", "no executable script"
        if tag == "svg":
            self._chart = attributes.get("data-chart")
        if tag == "polyline" and self._chart:
            self.polylines_by_chart[self._chart] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.chart_json += data


@pytest.fixture(scope="module")
def page(node: Node, tmp_path_factory: pytest.TempPathFactory) -> PageScan:
    out = tmp_path_factory.mktemp("html") / "report.html"
    done = run_logwatch("replay", str(node.root), "--output", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    scan = PageScan()
    scan.feed(out.read_text(encoding="utf-8"))
    return scan


def _minutes(node: Node) -> list[datetime]:
    t = node.truth
    assert t.first is not None and t.last is not None
    first = t.first.replace(second=0, microsecond=0)
    count = int((t.last.replace(second=0, microsecond=0) - first).total_seconds() // 60) + 1
    return [first + timedelta(minutes=i) for i in range(count)]


def test_page_is_self_contained(page: PageScan) -> None:
    assert page.external == []
    assert page.tags["svg"] == 7


def test_chart_data_matches_truth_per_minute(page: PageScan, node: Node) -> None:
    data = orjson.loads(page.chart_json)
    minutes = _minutes(node)
    assert data["minutes"] == [m.strftime("%Y-%m-%dT%H:%M:00.000Z") for m in minutes]
    charts = {c["id"]: c for c in data["charts"]}
    t = node.truth
    columns = {"requests": 0, "rl": 1, "uo": 2}
    for prefix, column in columns.items():
        for scope, table in (("route", t.route_minutes), ("cluster", t.cluster_minutes)):
            chart = charts[f"{prefix}-by-{scope}"]
            expected: dict[str, list[int]] = {}
            for (minute, name), counts in table.items():
                if counts[column]:
                    series = expected.setdefault(name or "(none)", [0] * len(minutes))
                    series[minutes.index(minute)] += counts[column]
            got = {s["name"]: s["values"] for s in chart["series"]}
            assert got == expected, chart["id"]
            assert page.polylines_by_chart[chart["id"]] == len(expected)
    errors: dict[str, list[int]] = {}
    for (minute, error_class), n in t.ztunnel_error_minutes.items():
        errors.setdefault(error_class, [0] * len(minutes))[minutes.index(minute)] += n
    assert {s["name"]: s["values"] for s in charts["ztunnel-errors"]["series"]} == errors


def test_html_to_stdout_is_one_page(node: Node) -> None:
    done = run_logwatch("replay", str(node.root), "-o", "html")
    assert done.returncode == 0
    assert done.stdout.startswith(b"<!DOCTYPE html>") and done.stdout.rstrip().endswith(b"</html>")


def test_table_shows_totals_routes_clusters_errors_and_incidents(
    node: Node, tmp_path: Path
) -> None:
    done = run_logwatch("replay", str(node.root))
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    t = node.truth
    assert (
        f"files={t.files} lines={t.lines} records={t.records} ignored={t.ignored} malformed={t.malformed}"
        in text
    )
    for name, r in t.routes.items():
        if name is None:
            continue
        row = rf"{re.escape(name)}\s+{r.requests}\s+{r.rate_limited}\s+{r.circuit_breaker}\s+{r.status_5xx}\s+"
        row += rf"{nearest_rank(r.durations, 50)}\s+{nearest_rank(r.durations, 99)}\n"
        assert re.search(row, text), name
    for error_class, n in t.ztunnel_errors.items():
        assert re.search(rf"\n{error_class}\s+{n}\n", text)
    # the checkout route rate-limited in minutes 8-10 only: one incident 03:08-03:11
    checkout = "httproute/shop/checkout/rule/0/match/0/shop_example_com"
    rl = t.routes[checkout].rate_limited
    assert re.search(rf"03:08\s+03:11\s+route\s+{re.escape(checkout)}\s+{rl}\s+0\s+0\s+0\n", text)
    # a pipe is not a TTY: no progress bar, and stderr holds only the malformed-line reports
    assert all(line.startswith(b"logwatch: ") for line in done.stderr.splitlines())
    assert b"replaying" not in done.stderr
