"""The report as one self-contained HTML page: inline CSS and SVG, no script, no network.

The charts' numbers are also embedded as JSON in
``<script type="application/json" id="logwatch-chart-data">`` (inert data, never executed),
so the page can be checked or re-plotted by tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any

import orjson

from logwatch.report.charts import Chart, build_chart, minute_axis, render_svg
from logwatch.report.model import Report, format_time
from logwatch.report.table import labels_text

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.legend{font-size:12px;margin:.2em 0 1.5em}.key{margin-right:1em}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def report_charts(report: Report) -> tuple[list[datetime], list[Chart]]:
    """The minute axis and the charts of the report."""
    axis = minute_axis(report.route_minutes, report.cluster_minutes, report.ztunnel_minutes)
    routes, clusters = report.route_minutes, report.cluster_minutes
    charts = [
        build_chart(
            "requests-by-route",
            "Requests per minute by route",
            routes,
            "route_name",
            "requests",
            axis,
        ),
        build_chart(
            "rl-by-route",
            "Rate limited (RL) per minute by route",
            routes,
            "route_name",
            "rate_limited",
            axis,
        ),
        build_chart(
            "uo-by-route",
            "Circuit breaker (UO) per minute by route",
            routes,
            "route_name",
            "circuit_breaker",
            axis,
        ),
        build_chart(
            "requests-by-cluster",
            "Requests per minute by upstream cluster",
            clusters,
            "upstream_cluster",
            "requests",
            axis,
        ),
        build_chart(
            "rl-by-cluster",
            "Rate limited (RL) per minute by upstream cluster",
            clusters,
            "upstream_cluster",
            "rate_limited",
            axis,
        ),
        build_chart(
            "uo-by-cluster",
            "Circuit breaker (UO) per minute by upstream cluster",
            clusters,
            "upstream_cluster",
            "circuit_breaker",
            axis,
        ),
        build_chart(
            "ztunnel-errors",
            "ztunnel connection errors per minute by class",
            report.ztunnel_minutes,
            "error_class",
            "errors",
            axis,
        ),
    ]
    return axis, charts


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{v}</td>'
            if isinstance(v, int)
            else f"<td>{escape('-' if v is None else str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    axis, charts = report_charts(report)
    data = orjson.dumps(
        {"minutes": [format_time(m) for m in axis], "charts": [c.to_json() for c in charts]}
    ).decode()
    # "</" cannot appear inside a script element; JSON allows escaping the slash
    data = data.replace("</", "<\\/")
    span = (
        f"{format_time(report.time_start)} to {format_time(report.time_end)}"
        if report.time_start and report.time_end
        else "no records"
    )
    inp = report.input
    sections = [
        f"<h1>logwatch incident report</h1><p>{escape(span)}; {inp.files} files, {inp.lines} lines, "
        f"{inp.records} records, {inp.ignored} ignored, {inp.malformed} malformed</p>",
        "<h2>Routes</h2>"
        + _html_table(
            ("route", "requests", "RL", "UO", "5xx", "p50 ms", "p99 ms"),
            [
                (
                    r.route_name,
                    r.requests,
                    r.rate_limited,
                    r.circuit_breaker,
                    r.status_5xx,
                    r.p50_ms,
                    r.p99_ms,
                )
                for r in report.routes
            ],
        ),
        "<h2>Upstream clusters</h2>"
        + _html_table(
            ("cluster", "requests", "RL", "UO", "5xx"),
            [
                (c.upstream_cluster, c.requests, c.rate_limited, c.circuit_breaker, c.status_5xx)
                for c in report.upstream_clusters
            ],
        ),
        f"<h2>ztunnel</h2><p>{report.ztunnel.connections} connections, {report.ztunnel.errors} errors</p>"
        + _html_table(("error class", "connections"), report.ztunnel.by_error_class),
        "<h2>Incidents</h2>"
        + _html_table(
            ("from", "to", "where", "name", "RL", "UO", "5xx", "errors"),
            [
                (
                    format_time(i.start),
                    format_time(i.end),
                    i.scope,
                    i.name,
                    i.rate_limited,
                    i.circuit_breaker,
                    i.status_5xx,
                    i.errors,
                )
                for i in report.incidents
            ],
        ),
    ]
    if report.alerts is not None:
        sections.append(
            "<h2>Alerts</h2>"
            + _html_table(
                ("rule", "starts", "ends", "events", "labels"),
                [
                    (
                        a.get("rule"),
                        a.get("starts_at"),
                        a.get("ends_at"),
                        a.get("events"),
                        labels_text(a.get("labels")),
                    )
                    for a in report.alerts
                ],
            )
        )
    if report.hops is not None:
        sections.append(
            "<h2>Hops</h2>"
            + _html_table(
                ("measure", "value"),
                [(k, v) for k, v in report.hops.items() if isinstance(v, int | str)],
            )
        )
        for key, rows in report.hops.items():
            if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                headers = tuple(rows[0])
                sections.append(
                    f"<h3>{escape(key.replace('_', ' '))}</h3>"
                    + _html_table(headers, [tuple(r.get(h) for h in headers) for r in rows])
                )
    sections.append("<h2>Per minute</h2>")
    sections.extend(f"<h3>{escape(c.title)}</h3>{render_svg(c, axis)}" for c in charts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>logwatch incident report</title>"
        f"<style>{_CSS}</style></head><body>"
        + "".join(sections)
        + f'<script type="application/json" id="logwatch-chart-data">{data}</script>'
        + "</body></html>\n"
    )
