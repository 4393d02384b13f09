"""Alerts and notifications as they cross from the alert lifecycle to the notifiers.

These are the boundary types between ``rules`` (decides), ``logwatch.alerts`` (lifecycle:
dedupe, grouping, silences, inhibition, routing) and ``logwatch.notify`` (durable delivery).
They are plain frozen dataclasses and serialize to JSON for the durable outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert instance: a rule and one value of its group_by labels."""

    rule: str
    fingerprint: str  # stable hash of rule + labels; PagerDuty dedup_key derives from it
    status: AlertStatus
    severity: Severity
    labels: dict[str, str]  # includes "alertname" and "severity"
    annotations: dict[str, str]  # summary, description: rendered from a safe template
    starts_at: datetime  # event time the condition began
    ends_at: datetime | None  # event time it resolved; None while firing
    events: int  # matching records counted while active
    origin: dict[str, Any] | None = None  # failure origin hop, once correlation knows it
    sample_path: dict[str, Any] | None = None  # one request path, JSON-shaped
    generator_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-shaped dict (times in ISO 8601), for the outbox and the lifecycle state."""
        return {
            "rule": self.rule,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "severity": self.severity,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "events": self.events,
            "origin": self.origin,
            "sample_path": self.sample_path,
            "generator_url": self.generator_url,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Alert:
        """Inverse of ``to_json``; raises KeyError, ValueError or TypeError on a bad entry."""
        ends = raw["ends_at"]
        return cls(
            rule=str(raw["rule"]),
            fingerprint=str(raw["fingerprint"]),
            status=raw["status"],
            severity=raw["severity"],
            labels={str(k): str(v) for k, v in raw["labels"].items()},
            annotations={str(k): str(v) for k, v in raw["annotations"].items()},
            starts_at=datetime.fromisoformat(raw["starts_at"]),
            ends_at=None if ends is None else datetime.fromisoformat(ends),
            events=int(raw["events"]),
            origin=raw.get("origin"),
            sample_path=raw.get("sample_path"),
            generator_url=raw.get("generator_url"),
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """What one notifier receives at once: alerts of one group, all firing or all resolved."""

    receiver: str  # name of the configured notifier
    group_key: str  # stable key of the group (receiver + group labels)
    status: AlertStatus
    alerts: tuple[Alert, ...]
    group_labels: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
