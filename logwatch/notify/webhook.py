"""Generic webhook: Alertmanager-webhook-compatible JSON, optionally HMAC-signed.

Body (Alertmanager webhook format version "4")::

    {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing"|"resolved",
     "receiver": ..., "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": ..., "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
     "generatorURL", "fingerprint"}]}

Headers:

- ``X-Logwatch-Notification-Id``: stable id of the notification; a retried delivery carries
  the same id, so receivers can drop duplicates (delivery is at least once).
- ``X-Logwatch-Signature: sha256=<hex>`` when ``hmac_secret`` is set: HMAC-SHA256 keyed
  with the secret over the exact request body bytes. Verify by recomputing it over the raw
  body and comparing in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from logwatch.alerts.model import Alert, Notification
from logwatch.notify import render
from logwatch.notify.base import DeliveryResult
from logwatch.notify.codec import notification_id
from logwatch.notify.config import WebhookReceiver
from logwatch.notify.http import SharedHttpClient

SIGNATURE_HEADER = "X-Logwatch-Signature"
ID_HEADER = "X-Logwatch-Notification-Id"
# Alertmanager's zero time, used for endsAt of a firing alert
_ZERO_TIME = "0001-01-01T00:00:00Z"


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _alert_body(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": render.rfc3339(alert.starts_at),
        "endsAt": render.rfc3339(alert.ends_at) if alert.ends_at else _ZERO_TIME,
        "generatorURL": alert.generator_url or "",
        "fingerprint": alert.fingerprint,
    }


def build_body(notification: Notification, external_url: str = "") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": _common([alert.labels for alert in notification.alerts]),
        "commonAnnotations": _common([alert.annotations for alert in notification.alerts]),
        "externalURL": external_url,
        "alerts": [_alert_body(alert) for alert in notification.alerts],
    }


class WebhookNotifier:
    def __init__(self, config: WebhookReceiver, http: SharedHttpClient) -> None:
        self.name = config.name
        self._config = config
        self._http = http
        self._http.retain()
        self._closed = False

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.retry("notifier closed")
        body = orjson.dumps(build_body(notification, self._config.external_url))
        headers = {"content-type": "application/json", ID_HEADER: notification_id(notification)}
        redact: tuple[str, ...] = ()
        if self._config.hmac_secret is not None:
            secret = self._config.hmac_secret.get_secret_value()
            headers[SIGNATURE_HEADER] = signature(secret.encode(), body)
            redact = (secret,)
        return await self._http.post_result(
            self._config.url,
            body,
            headers=headers,
            timeout_s=self._config.timeout_s,
            redact=redact,
        )

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.release()
