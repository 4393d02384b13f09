"""Configuration of logwatch.correlate, validated once at load (see logwatch.config).

All durations are event-time seconds (the time written in the logs), never wall time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CorrelationConfig(BaseModel):
    """Join keys are fixed by the log formats; these settings bound state and tolerance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # join the hops of each request (replay, daemon and Kafka analyzer)
    enabled: bool = True
    # A request path stays open this long after its last hop ended, and a ztunnel connection
    # stays joinable this long after it closed: ztunnel writes its line only at close, and the
    # hops of one request arrive from different files at different moments.
    join_window_s: float = Field(default=30.0, gt=0, le=3600)
    # A path still receiving hops this long after its first one is finalized anyway (a
    # request id reused by a client); later hops with that id start a new path.
    max_path_age_s: float = Field(default=300.0, gt=0)
    # Records may arrive this far behind the watermark and still find their partners: windows
    # close at ``watermark - allowed_lateness_s``.
    allowed_lateness_s: float = Field(default=2.0, ge=0, le=600)
    # Pending request paths plus retained ztunnel connections. Beyond it the oldest paths are
    # finalized early and the oldest connections dropped; both are counted as evictions.
    max_pending_entries: int = Field(default=200_000, ge=100)
    # Clock skew tolerated between nodes (ztunnel on one node, a waypoint on another).
    max_clock_skew_s: float = Field(default=1.0, ge=0, le=60)
    # Once the offset between two nodes' clocks is learned, what is left of it may vary this much.
    skew_residual_ms: int = Field(default=20, ge=1, le=60_000)
    # Slack for the exact L4 join: Envoy logs milliseconds, ztunnel truncates durations to
    # whole milliseconds, and Envoy stamps start_time before it opens the upstream connection.
    l4_time_tolerance_ms: int = Field(default=3, ge=0, le=1000)
    # Approximate joins below this confidence are not made (counted as ambiguous instead).
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    # Inbound and outbound records of one tunneled connection have nearly equal durations.
    pair_duration_tolerance_ms: int = Field(default=50, ge=0)
    # How long an IP keeps the workload learned from a ztunnel record (pod IPs get reused).
    workload_ttl_s: float = Field(default=600.0, gt=0)
    # Workload names that are waypoints (used when an Istio waypoint's own pod is unknown).
    waypoint_workload_pattern: str = "waypoint"
    # Finalized hops kept for ``path_for`` (alert samples) after they were drained, at least
    # the newest step's. An alert looks its sample request up when it fires, while that
    # request's path is usually still open, so a short window serves nearly every lookup.
    recent_hops: int = Field(default=20_000, ge=0)
    # Finalized hops kept for ``drain_paths`` when nobody drains (at least the newest step);
    # the oldest are dropped and counted.
    max_undrained_hops: int = Field(default=100_000, ge=0)
    # Keep ztunnel outbound <-> inbound pairs for ``drain_connection_pairs`` (audits, tests).
    keep_connection_pairs: bool = False
