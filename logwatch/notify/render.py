"""Plain-text renderings of alerts shared by the notifiers (summary line, labels, times).

Label values come from logs and may hold any text; these helpers keep them on one line
(control characters become spaces) and bounded in length. Receiver-specific escaping (Slack
mrkdwn) is done by the receiver's module on top of this.
"""

from __future__ import annotations

from datetime import UTC, datetime

from logwatch.alerts.model import Alert

# labels that already appear as the title of a line
_TITLE_LABELS = frozenset({"alertname", "severity"})


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with control characters replaced by spaces, cut to ``limit`` characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def rfc3339(when: datetime) -> str:
    """UTC timestamp as ``2026-01-02T03:04:05.678Z`` (Alertmanager and PagerDuty accept it)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def label_pairs(alert: Alert, limit: int = 300) -> str:
    """``key=value`` pairs of the alert's identifying labels, sorted, one line."""
    pairs = (
        f"{key}={value}" for key, value in sorted(alert.labels.items()) if key not in _TITLE_LABELS
    )
    return one_line(" ".join(pairs), limit)


def summary(alert: Alert, limit: int = 300) -> str:
    """The alert's ``summary`` annotation, or its rule name and labels when it has none."""
    text = alert.annotations.get("summary") or f"{alert.rule} {label_pairs(alert)}".strip()
    return one_line(text, limit)


def origin_text(alert: Alert, limit: int = 300) -> str:
    """Where the failure began: the correlator's sentence for the origin hop ("circuit_breaker
    at waypoint ... on ...; the ingress still answered 200") when it has one, else the origin's
    ``key=value`` pairs; "" when not known."""
    if not alert.origin:
        return ""
    description = alert.origin.get("description")
    if isinstance(description, str) and description:
        return one_line(description, limit)
    return one_line(" ".join(f"{key}={value}" for key, value in alert.origin.items()), limit)
