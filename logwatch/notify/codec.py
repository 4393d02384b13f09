"""Notifications to and from JSON (the outbox stores them), and their stable identity.

``notification_id`` is the idempotency key of the outbox and of the generic webhook's
``X-Logwatch-Notification-Id`` header: the same receiver, group, status, alerts (fingerprint,
start, end) and creation time give the same id, so a notification put twice (for example
re-emitted after a restart) is stored and delivered once, while a later repeat of the same
group (a new ``created_at``) is a new notification.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from logwatch.alerts.model import Alert, Notification


class UndecodableNotification(ValueError):
    """Stored bytes that are not a notification of this version (corruption, downgrade)."""


def notification_id(notification: Notification) -> str:
    alerts = sorted(
        (
            alert.fingerprint,
            alert.starts_at.isoformat(),
            alert.ends_at.isoformat() if alert.ends_at else "",
        )
        for alert in notification.alerts
    )
    identity = orjson.dumps(
        [
            notification.receiver,
            notification.group_key,
            notification.status,
            alerts,
            notification.created_at.isoformat() if notification.created_at else "",
        ]
    )
    return hashlib.sha256(identity).hexdigest()[:32]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode_alert(alert: Alert) -> bytes:
    return orjson.dumps(alert.to_json())


def encode(notification: Notification) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "receiver": notification.receiver,
            "group_key": notification.group_key,
            "status": notification.status,
            "group_labels": notification.group_labels,
            "created_at": _time(notification.created_at),
            "alerts": [alert.to_json() for alert in notification.alerts],
        }
    )


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _alert_from(raw: dict[str, Any]) -> Alert:
    if raw.get("starts_at") is None:
        raise UndecodableNotification("alert without starts_at")
    return Alert.from_json(raw)


def decode_alert(data: bytes) -> Alert:
    try:
        return _alert_from(orjson.loads(data))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UndecodableNotification(
            f"stored alert is not readable: {type(exc).__name__}"
        ) from None


def decode(data: bytes) -> Notification:
    """Inverse of ``encode``; raises UndecodableNotification for anything else."""
    try:
        raw = orjson.loads(data)
        if raw.get("v") != 1:
            raise UndecodableNotification(f"unknown notification format {raw.get('v')!r}")
        return Notification(
            receiver=str(raw["receiver"]),
            group_key=str(raw["group_key"]),
            status=raw["status"],
            alerts=tuple(_alert_from(alert) for alert in raw["alerts"]),
            group_labels={str(k): str(v) for k, v in raw["group_labels"].items()},
            created_at=_parse_time(raw["created_at"]),
        )
    except UndecodableNotification:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UndecodableNotification(
            f"stored notification is not readable: {type(exc).__name__}"
        ) from None
