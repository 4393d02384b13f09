"""Alertmanager API v2: ``POST /api/v2/alerts`` with a list of postableAlert.

Alertmanager keeps no sender state: a firing alert that is not posted again before its
``endsAt`` is considered resolved. So firing alerts are posted with ``endsAt`` four re-post
intervals ahead, and the dispatcher re-sends the still-firing ones every
``repost_interval_s`` (this class is ``Reposting``). A resolved alert is posted with
``endsAt`` = the time it resolved, which resolves it in Alertmanager at once.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from logwatch.alerts.model import Alert, Notification
from logwatch.clock import Clock, WallClock
from logwatch.notify import render
from logwatch.notify.base import DeliveryResult
from logwatch.notify.config import AlertmanagerReceiver
from logwatch.notify.http import SharedHttpClient

_ENDS_AFTER_REPOSTS = 4


def postable_alert(alert: Alert, now: datetime, repost_interval_s: float) -> dict[str, Any]:
    if alert.ends_at is not None:
        ends_at = alert.ends_at
    else:
        ends_at = now + timedelta(seconds=_ENDS_AFTER_REPOSTS * repost_interval_s)
    body: dict[str, Any] = {
        "labels": {"alertname": alert.rule, **alert.labels},
        "annotations": alert.annotations,
        "startsAt": render.rfc3339(alert.starts_at),
        "endsAt": render.rfc3339(ends_at),
    }
    if alert.generator_url:
        body["generatorURL"] = alert.generator_url
    return body


class AlertmanagerNotifier:
    def __init__(
        self, config: AlertmanagerReceiver, http: SharedHttpClient, clock: Clock | None = None
    ) -> None:
        self.name = config.name
        self.repost_interval_s = config.repost_interval_s
        self._config = config
        self._http = http
        self._http.retain()
        self._clock: Clock = clock or WallClock()
        self._url = config.url.rstrip("/") + "/api/v2/alerts"
        self._closed = False

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.retry("notifier closed")
        now = self._clock.now().astimezone(UTC)
        alerts = [postable_alert(a, now, self.repost_interval_s) for a in notification.alerts]
        headers, redact = self._auth()
        return await self._http.post_result(
            self._url,
            orjson.dumps(alerts),
            headers={"content-type": "application/json", **headers},
            timeout_s=self._config.timeout_s,
            redact=redact,
        )

    def _auth(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """The authorization header, and the secrets to redact from replies. Built per
        request so that no credential sits in a plain attribute."""
        config = self._config
        if config.basic_auth is not None:
            password = config.basic_auth.password.get_secret_value()
            token = base64.b64encode(f"{config.basic_auth.username}:{password}".encode()).decode()
            return {"authorization": "Basic " + token}, (password, token)
        if config.bearer_token is not None:
            token = config.bearer_token.get_secret_value()
            return {"authorization": "Bearer " + token}, (token,)
        return {}, ()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.release()
