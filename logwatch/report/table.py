"""The report as plain-text tables for a terminal (the default `logwatch replay` output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from logwatch.report.model import Report, format_time

TOP_ROWS = 20  # longest table printed; the JSON and HTML outputs carry everything


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int) or row[i] is None for row in rows) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def _section(title: str, body: list[str], out: list[str], more: int = 0) -> None:
    out.append("")
    out.append(title)
    out.extend(body if body else ["(none)"])
    if more > 0:
        out.append(f"... {more} more")


def render_table(report: Report) -> str:
    """Totals, flags, top routes and clusters, ztunnel errors, incidents (and hops/alerts)."""
    inp = report.input
    span = (
        f"{format_time(report.time_start)} .. {format_time(report.time_end)}"
        if report.time_start and report.time_end
        else "-"
    )
    out = [
        f"input      files={inp.files} lines={inp.lines} records={inp.records} "
        f"ignored={inp.ignored} malformed={inp.malformed}",
        f"time range {span}",
        "records    " + " ".join(f"{k}={v}" for k, v in report.records_by_kind),
    ]
    signals = [(name, n) for name, n in report.signals if n]
    _section("signals", _table(("signal", "records"), signals) if signals else [], out)
    flags = list(report.response_flags)
    _section("response flags", _table(("flag", "records"), flags), out)
    routes = [
        (
            r.route_name,
            r.requests,
            r.rate_limited,
            r.circuit_breaker,
            r.status_5xx,
            r.p50_ms,
            r.p99_ms,
        )
        for r in report.routes[:TOP_ROWS]
    ]
    _section(
        "routes",
        _table(("route", "requests", "RL", "UO", "5xx", "p50 ms", "p99 ms"), routes)
        if routes
        else [],
        out,
        len(report.routes) - TOP_ROWS,
    )
    clusters = [
        (c.upstream_cluster, c.requests, c.rate_limited, c.circuit_breaker, c.status_5xx)
        for c in report.upstream_clusters[:TOP_ROWS]
    ]
    _section(
        "upstream clusters",
        _table(("cluster", "requests", "RL", "UO", "5xx"), clusters) if clusters else [],
        out,
        len(report.upstream_clusters) - TOP_ROWS,
    )
    zt = report.ztunnel
    _section(
        f"ztunnel    connections={zt.connections} errors={zt.errors}",
        _table(("error class", "connections"), zt.by_error_class) if zt.by_error_class else [],
        out,
    )
    incidents = [
        (
            format_time(i.start)[11:16],
            format_time(i.end)[11:16],
            i.scope,
            i.name,
            i.rate_limited,
            i.circuit_breaker,
            i.status_5xx,
            i.errors,
        )
        for i in report.incidents[:TOP_ROWS]
    ]
    _section(
        "incidents (UTC)",
        _table(("from", "to", "where", "name", "RL", "UO", "5xx", "errors"), incidents)
        if incidents
        else [],
        out,
        len(report.incidents) - TOP_ROWS,
    )
    if report.hops is not None:
        _hops(report.hops, out)
    if report.alerts is not None:
        alerts = [
            (
                a.get("rule"),
                a.get("starts_at"),
                a.get("ends_at"),
                a.get("events"),
                labels_text(a.get("labels")),
            )
            for a in report.alerts[:TOP_ROWS]
        ]
        _section(
            "alerts",
            _table(("rule", "starts", "ends", "events", "labels"), alerts) if alerts else [],
            out,
            len(report.alerts) - TOP_ROWS,
        )
    return "\n".join(out) + "\n"


def labels_text(labels: object) -> str:
    """An alert's labels as ``k=v,k=v`` (alertname and severity are shown elsewhere)."""
    if not isinstance(labels, dict):
        return ""
    return ",".join(f"{k}={v}" for k, v in labels.items() if k not in ("alertname", "severity"))


def _hops(hops: dict[str, Any], out: list[str]) -> None:
    """The correlator's summary: scalars on one line, mappings as ``name: k=v``, lists of
    rows (e.g. failures by origin) as tables."""
    scalars = " ".join(f"{k}={v}" for k, v in hops.items() if isinstance(v, int | float | str))
    body: list[str] = []
    for key, value in hops.items():
        if isinstance(value, dict) and value:
            body.append(f"{key}: " + " ".join(f"{k}={v}" for k, v in value.items()))
    _section(f"hops       {scalars}", body, out)
    for key, value in hops.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            headers = tuple(value[0])
            rows = [tuple(row.get(h) for h in headers) for row in value[:TOP_ROWS]]
            _section(key.replace("_", " "), _table(headers, rows), out, len(value) - TOP_ROWS)
