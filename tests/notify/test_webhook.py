"""Generic webhook: Alertmanager webhook JSON (version 4) and the HMAC signature header."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.codec import notification_id
from logwatch.notify.webhook import build_body
from tests.notify.conftest import (
    FAST_RETRY,
    make_alert,
    make_notification,
    receivers_config,
    resolved,
    wait_until,
)
from tests.notify.receivers import GenericWebhook, Scripted

HMAC_SECRET = "whsec-5c2f0e1d-top-secret"


def validate_am_webhook(body: Any) -> list[str]:
    """The Alertmanager webhook_config payload (version 4), field by field."""
    errors: list[str] = []
    expected = {
        "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
        "commonLabels", "commonAnnotations", "externalURL", "alerts",
    }  # fmt: skip
    if set(body) != expected:
        return [f"top-level keys {sorted(set(body) ^ expected)}"]
    if body["version"] != "4" or body["status"] not in {"firing", "resolved"}:
        errors.append("version/status")
    for key in ("groupKey", "receiver", "externalURL"):
        if not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in body[key].items()):
            errors.append(f"{key} must map strings to strings")
    alert_keys = {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    for alert in body["alerts"]:
        if set(alert) != alert_keys:
            errors.append(f"alert keys {sorted(set(alert) ^ alert_keys)}")
            continue
        for key in ("startsAt", "endsAt"):
            datetime.fromisoformat(alert[key].replace("Z", "+00:00"))
        if alert["status"] not in {"firing", "resolved"}:
            errors.append("alert status")
    return errors


def test_body_is_alertmanager_webhook_v4() -> None:
    one = make_alert(1, annotations={"summary": "a", "runbook": "same"})
    two = make_alert(2, annotations={"summary": "b", "runbook": "same"})
    body = build_body(make_notification(one, two), external_url="http://logwatch:9100")
    assert validate_am_webhook(body) == []
    assert body["commonLabels"] == {"alertname": "rate_limit_local", "severity": "critical"}
    assert body["commonAnnotations"] == {"runbook": "same"}
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"  # firing: Alertmanager's zero time
    closed = build_body(make_notification(resolved(one)))
    assert closed["status"] == "resolved"
    assert closed["alerts"][0]["endsAt"] == "2026-03-01T12:05:00.000Z"


async def test_signed_delivery_verified_by_the_receiver(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook.script.append(Scripted(503))
    config = receivers_config(
        monkeypatch,
        [
            {
                "name": "hook",
                "type": "webhook",
                "url": webhook.url + "/alerts",
                "secret:hmac_secret": HMAC_SECRET,
                "retry": FAST_RETRY,
            }
        ],
    )
    note = make_notification(make_alert(1), receiver="hook")
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        dispatcher.submit(note)
        await wait_until(lambda: len(webhook.bodies) == 1)
    assert len(webhook.requests) == 2  # the 503 and the delivery
    first, second = webhook.requests
    # the retry carries the same id and the same signed body
    assert (
        first.headers["x-logwatch-notification-id"] == second.headers["x-logwatch-notification-id"]
    )
    assert second.headers["x-logwatch-notification-id"] == notification_id(note)
    for request in webhook.requests:
        expected = (
            "sha256=" + hmac.new(HMAC_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        )
        assert hmac.compare_digest(request.headers["x-logwatch-signature"], expected)
        assert validate_am_webhook(request.json()) == []
        assert HMAC_SECRET not in request.body.decode()
    forged = "sha256=" + hmac.new(b"wrong", second.body, hashlib.sha256).hexdigest()
    assert forged != second.headers["x-logwatch-signature"]


async def test_unsigned_when_no_secret(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = receivers_config(
        monkeypatch, [{"name": "hook", "type": "webhook", "url": webhook.url}]
    )
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        dispatcher.submit(make_notification(receiver="hook"))
        await wait_until(lambda: len(webhook.bodies) == 1)
    assert "x-logwatch-signature" not in webhook.bodies[0].headers
