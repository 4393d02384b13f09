"""Alerts and lifecycles for lifecycle tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.inhibit import InhibitRule
from logwatch.alerts.lifecycle import AlertLifecycle, Muter, fingerprint
from logwatch.alerts.model import Alert
from logwatch.alerts.routing import RouteTree

T0 = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(
    rule: str = "RL",
    status: str = "firing",
    start: float = 0,
    end: float | None = None,
    **labels: str,
) -> Alert:
    full = {"alertname": rule, "severity": labels.pop("severity", "warning"), **labels}
    return Alert(
        rule=rule,
        fingerprint=fingerprint(full),
        status="firing" if status == "firing" else "resolved",
        severity=full["severity"],  # type: ignore[arg-type]
        labels=full,
        annotations={"summary": rule},
        starts_at=at(start),
        ends_at=None if end is None else at(end),
        events=1,
    )


def lifecycle(muter: Muter | None = None, **config: Any) -> AlertLifecycle:
    settings = {
        "group_wait": "10s",
        "group_interval": "1m",
        "repeat_interval": "1h",
        "inhibit_rules": [],
        **config,
    }
    cfg = AlertsConfig.model_validate(settings)
    return AlertLifecycle(
        RouteTree(cfg), tuple(InhibitRule.from_config(r) for r in cfg.inhibit_rules), muter
    )
