"""PagerDuty Events API v2: one ``trigger`` or ``resolve`` event per alert.

``POST /v2/enqueue`` with ``routing_key``, ``event_action`` and a ``dedup_key`` that is
stable per alert (derived from its fingerprint), so a re-sent trigger lands on the same
PagerDuty alert and the resolve closes it. Status handling follows the published retry
table: 202 accepted; 400 permanent failure; 429 and 5xx retried (network errors too).

A notification with several alerts becomes several events. When one of them needs a retry,
the events already accepted are remembered (bounded, in memory) and not sent again when the
dispatcher retries that notification; a later repeat of the group is sent in full.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from logwatch.alerts.model import Alert, Notification
from logwatch.notify import render
from logwatch.notify.base import DeliveryResult
from logwatch.notify.codec import notification_id
from logwatch.notify.config import PagerDutyReceiver
from logwatch.notify.http import SharedHttpClient

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
MAX_EVENT_BYTES = 512 * 1024
_SENT_MEMORY = 10_000
# labels that name where the failure is, best first: payload.source and payload.component
_SOURCE_LABELS = ("destination_workload", "route", "upstream_cluster", "node", "source_workload")


def dedup_key(alert: Alert) -> str:
    return f"logwatch-{alert.fingerprint}"[:DEDUP_KEY_MAX]


def build_event(alert: Alert, config: PagerDutyReceiver) -> dict[str, Any]:
    """The Events API v2 body for one alert (the routing key is added by the sender)."""
    key = dedup_key(alert)
    if alert.status == "resolved":
        return {"event_action": "resolve", "dedup_key": key}
    source = next((alert.labels[k] for k in _SOURCE_LABELS if alert.labels.get(k)), config.source)
    details: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "events": alert.events,
        "starts_at": render.rfc3339(alert.starts_at),
    }
    if alert.origin:
        details["origin"] = alert.origin
    if alert.sample_path:
        details["sample_path"] = alert.sample_path
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": render.summary(alert, SUMMARY_MAX),
            "source": render.one_line(source, 255),
            "severity": config.severity_map.get(alert.severity, "error"),
            "timestamp": render.rfc3339(alert.starts_at),
            "component": render.one_line(
                alert.labels.get("upstream_cluster") or alert.labels.get("route") or alert.rule, 255
            ),
            "group": render.one_line(alert.labels.get("namespace") or alert.rule, 255),
            "class": render.one_line(alert.rule, 255),
            "custom_details": details,
        },
        "client": config.client,
    }
    if config.client_url:
        event["client_url"] = config.client_url
    if alert.generator_url:
        event["links"] = [{"href": alert.generator_url, "text": "logwatch"}]
    return event


class PagerDutyNotifier:
    def __init__(self, config: PagerDutyReceiver, http: SharedHttpClient) -> None:
        self.name = config.name
        self._config = config
        self._http = http
        self._http.retain()
        # (notification id, dedup_key) of events already accepted, oldest first
        self._sent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._closed = False

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.retry("notifier closed")
        note_id = notification_id(notification)
        for alert in notification.alerts:
            # scoped to this notification: a retry skips accepted events, a repeat does not
            identity = (note_id, dedup_key(alert))
            if identity in self._sent:
                continue
            result = await self._send_event(build_event(alert, self._config))
            if result.outcome != "delivered":
                return result
            self._sent[identity] = None
            if len(self._sent) > _SENT_MEMORY:
                self._sent.popitem(last=False)
        return DeliveryResult.delivered()

    async def _send_event(self, event: dict[str, Any]) -> DeliveryResult:
        event = {"routing_key": self._config.routing_key.get_secret_value(), **event}
        body = orjson.dumps(event)
        if len(body) > MAX_EVENT_BYTES and "payload" in event:
            # the sample path is the bulky, optional part: drop it rather than be refused
            event["payload"]["custom_details"].pop("sample_path", None)
            body = orjson.dumps(event)
        return await self._http.post_result(
            self._config.url,
            body,
            headers={"content-type": "application/json"},
            timeout_s=self._config.timeout_s,
            redact=(self._config.routing_key.get_secret_value(),),
        )

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.release()
