"""Counters of the correlator, for the replay report's ``hops`` section and the metrics stage.

Written only by :class:`logwatch.correlate.correlator.Correlator` (one thread); readers such
as an observable-metrics callback tolerate a slightly stale view. Counts cover finalized
paths; ``pending_*`` are gauges of what is still open.

Suggested metric names (counters unless noted):
``logwatch_correlation_hops_total``, ``logwatch_correlation_paths_total``,
``logwatch_correlation_joins_total{kind}``, ``logwatch_correlation_ambiguous_total{kind}``,
``logwatch_correlation_unmatched_total{kind}``, ``logwatch_correlation_evictions_total{what}``,
``logwatch_correlation_late_records_total``,
``logwatch_correlation_failure_origin_total{role,signal}``, and the gauges
``logwatch_correlation_pending_entries{what}`` and ``logwatch_correlation_workloads_known``.
Per-hop durations come from ``Correlator.drain_hop_metrics()`` as a frame.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class OriginKey:
    role: str
    pod: str
    signal: str


@dataclass
class CorrelationStats:
    hops: int = 0
    paths: int = 0
    # distinct x-request-id values over finalized paths (RECORD.md ``hops.requests``)
    requests: int = 0
    multi_hop: int = 0
    # Envoy records joined exactly to one ztunnel outbound record (RECORD.md ``l4_joined``)
    l4_joined: int = 0
    joins: Counter[str] = field(default_factory=Counter)
    ambiguous: Counter[str] = field(default_factory=Counter)
    # l4: hops with an upstream local address but no ztunnel record;
    # waypoint_downstream: waypoint hops without the connection that brought the request;
    # ztunnel_outbound / ztunnel_inbound: connections expired without joining anything.
    unmatched: Counter[str] = field(default_factory=Counter)
    failures_by_origin: Counter[OriginKey] = field(default_factory=Counter)
    # paths: finalized early for max_pending_entries; connections: dropped for it.
    evictions: Counter[str] = field(default_factory=Counter)
    # finalized hops dropped from the output buffer because nobody drained paths (a replay
    # without --paths); their joins and counts above are complete.
    undrained_hops_dropped: int = 0
    late_records: int = 0
    records_without_time: int = 0
    connections: int = 0
    connections_opened_ignored: int = 0
    pending_hops: int = 0
    pending_connections: int = 0
    workloads_known: int = 0

    def add(self, step: CorrelationStats) -> None:
        """Add the counts of ``step`` (one step counted apart; its gauges are zero)."""
        for name in (f.name for f in fields(self)):
            mine, theirs = getattr(self, name), getattr(step, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                setattr(self, name, mine + theirs)

    def summary(self) -> dict[str, Any]:
        """The replay report's ``hops`` section (JSON-ready)."""
        origins = [
            {"role": key.role, "pod": key.pod, "signal": key.signal, "requests": count}
            for key, count in self.failures_by_origin.most_common()
        ]
        return {
            "requests": self.requests,
            "multi_hop": self.multi_hop,
            "l4_joined": self.l4_joined,
            "hops": self.hops,
            "paths": self.paths,
            "connections": self.connections,
            "joins": dict(sorted(self.joins.items())),
            "ambiguous": dict(sorted(self.ambiguous.items())),
            "unmatched": dict(sorted(self.unmatched.items())),
            "failures_by_origin": origins,
            "evictions": dict(sorted(self.evictions.items())),
            "late_records": self.late_records,
            "records_without_time": self.records_without_time,
        }
