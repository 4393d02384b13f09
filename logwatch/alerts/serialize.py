"""Alert <-> JSON-shaped dict, for the lifecycle's own checkpoint file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logwatch.alerts.model import Alert


def alert_to_json(alert: Alert) -> dict[str, Any]:
    return {
        "rule": alert.rule,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "severity": alert.severity,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "events": alert.events,
        "origin": alert.origin,
        "sample_path": alert.sample_path,
        "generator_url": alert.generator_url,
    }


def alert_from_json(raw: dict[str, Any]) -> Alert:
    """Raises KeyError/ValueError/TypeError on a malformed entry."""
    ends = raw["ends_at"]
    return Alert(
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
