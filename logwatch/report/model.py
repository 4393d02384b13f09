"""The incident report as data: what every renderer (table, JSON, HTML) prints.

Counts are over records (not lines) that passed the replay filters; lists are sorted by
``requests`` (largest first, then by name, nulls last). ``to_json`` is exactly the
`logwatch replay --output json` contract; the per-minute series and the incidents timeline
are for the table and HTML renderers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

# Every signal the parsers derive (RECORD.md "Signals"); the JSON lists each, zero or not,
# so a consumer can tell "none happened" from "not measured".
KNOWN_SIGNALS: tuple[str, ...] = (
    "rate_limited",
    "rate_limit_error",
    "circuit_breaker",
    "retry_limit",
    "no_healthy_upstream",
    "upstream_connect_failure",
    "upstream_reset",
    "upstream_timeout",
    "no_route",
    "authz_denied",
    "downstream_disconnect",
    "fault_injected",
    "connection_error",
)

# The two flags logwatch exists for are always listed; other flags appear when seen.
ALWAYS_LISTED_FLAGS: tuple[str, ...] = ("RL", "UO")

# Per-minute series columns (one row per minute and route / cluster / error class).
ROUTE_MINUTES_SCHEMA: dict[str, pl.DataType] = {
    "minute": pl.Datetime("us", "UTC"),
    "route_name": pl.String(),
    "requests": pl.Int64(),
    "rate_limited": pl.Int64(),
    "circuit_breaker": pl.Int64(),
    "status_5xx": pl.Int64(),
}
CLUSTER_MINUTES_SCHEMA: dict[str, pl.DataType] = {
    "minute": pl.Datetime("us", "UTC"),
    "upstream_cluster": pl.String(),
    "requests": pl.Int64(),
    "rate_limited": pl.Int64(),
    "circuit_breaker": pl.Int64(),
    "status_5xx": pl.Int64(),
}
ZTUNNEL_MINUTES_SCHEMA: dict[str, pl.DataType] = {
    "minute": pl.Datetime("us", "UTC"),
    "error_class": pl.String(),
    "connections": pl.Int64(),
    "errors": pl.Int64(),
}


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with milliseconds and ``Z`` (the report's time format)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class InputTotals:
    files: int
    lines: int
    records: int
    ignored: int
    malformed: int


@dataclass(frozen=True, slots=True)
class RouteSummary:
    route_name: str | None
    requests: int
    rate_limited: int
    circuit_breaker: int
    status_5xx: int
    p50_ms: int | None  # nearest-rank, see logwatch.report.latency
    p99_ms: int | None


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    upstream_cluster: str | None
    requests: int
    circuit_breaker: int
    status_5xx: int
    rate_limited: int  # not in the JSON contract; shown in the table and charts


@dataclass(frozen=True, slots=True)
class ZtunnelSummary:
    connections: int  # records that end a connection (complete or failed), not "opened"
    errors: int  # records with an error
    by_error_class: tuple[tuple[str, int], ...]  # largest first


@dataclass(frozen=True, slots=True)
class Incident:
    """Consecutive minutes in which one route, cluster or ztunnel error class saw trouble."""

    start: datetime  # first minute
    end: datetime  # end of the last minute
    scope: str  # "route" | "ztunnel"
    name: str  # route name, or ztunnel error class
    rate_limited: int
    circuit_breaker: int
    status_5xx: int
    errors: int  # ztunnel connection errors


@dataclass(frozen=True, slots=True, eq=False)
class Report:
    input: InputTotals
    time_start: datetime | None
    time_end: datetime | None
    records_by_kind: tuple[tuple[str, int], ...]
    signals: tuple[tuple[str, int], ...]
    response_flags: tuple[tuple[str, int], ...]
    routes: tuple[RouteSummary, ...]
    upstream_clusters: tuple[ClusterSummary, ...]
    ztunnel: ZtunnelSummary
    route_minutes: pl.DataFrame  # ROUTE_MINUTES_SCHEMA, sorted by minute then route
    cluster_minutes: pl.DataFrame  # CLUSTER_MINUTES_SCHEMA
    ztunnel_minutes: pl.DataFrame  # ZTUNNEL_MINUTES_SCHEMA
    incidents: tuple[Incident, ...]  # by start time
    hops: dict[str, Any] | None = None  # the correlator's summary(), when correlation ran
    alerts: list[dict[str, Any]] | None = None  # the alert stage's report(), when rules ran

    def to_json(self) -> dict[str, Any]:
        """The `logwatch replay --output json` document (RECORD.md)."""
        doc: dict[str, Any] = {
            "input": {
                "files": self.input.files,
                "lines": self.input.lines,
                "records": self.input.records,
                "ignored": self.input.ignored,
                "malformed": self.input.malformed,
            },
            "time_range": {
                "start": format_time(self.time_start) if self.time_start else None,
                "end": format_time(self.time_end) if self.time_end else None,
            },
            "records_by_kind": dict(self.records_by_kind),
            "signals": dict(self.signals),
            "response_flags": dict(self.response_flags),
            "routes": [
                {
                    "route_name": r.route_name,
                    "requests": r.requests,
                    "rate_limited": r.rate_limited,
                    "circuit_breaker": r.circuit_breaker,
                    "status_5xx": r.status_5xx,
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                }
                for r in self.routes
            ],
            "upstream_clusters": [
                {
                    "upstream_cluster": c.upstream_cluster,
                    "requests": c.requests,
                    "circuit_breaker": c.circuit_breaker,
                    "status_5xx": c.status_5xx,
                }
                for c in self.upstream_clusters
            ],
            "ztunnel": {
                "connections": self.ztunnel.connections,
                "errors": self.ztunnel.errors,
                "by_error_class": dict(self.ztunnel.by_error_class),
            },
        }
        if self.hops is not None:
            doc["hops"] = self.hops
        if self.alerts is not None:
            doc["alerts"] = self.alerts
        return doc
