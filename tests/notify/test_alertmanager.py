"""A real Alertmanager receives firing, re-posted and resolved alerts (asserted via its API)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.config import NotifiersConfig
from tests.notify.conftest import (
    RealAlertmanager,
    free_port,
    make_alert,
    make_notification,
    receivers_config,
    resolved,
    wait_until,
)
from tests.notify.receivers import GenericWebhook
from tests.notify.test_webhook import validate_am_webhook


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _resolved_alerts(webhook: GenericWebhook) -> list[dict[str, Any]]:
    """Alerts that Alertmanager itself reported resolved to its webhook receiver."""
    return [a for r in webhook.requests for a in r.json()["alerts"] if a["status"] == "resolved"]


def am_config(monkeypatch: pytest.MonkeyPatch, url: str, repost_s: float) -> NotifiersConfig:
    return receivers_config(
        monkeypatch,
        [
            {
                "name": "am",
                "type": "alertmanager",
                "url": url,
                "repost_interval_s": repost_s,
                "timeout_s": 2,
            }
        ],
    )


async def test_firing_reposted_and_resolved_in_a_real_alertmanager(
    alertmanager_factory: Callable[..., RealAlertmanager],
    webhook: GenericWebhook,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Alertmanager forwards to our loopback webhook: we also see its own resolved notification
    am = alertmanager_factory(
        f'  - name: "null"\n    webhook_configs:\n      - url: "{webhook.url}/am"\n        send_resolved: true\n',
        "  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 500ms\n  repeat_interval: 1h\n",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    first = make_alert(1, starts_at=now - timedelta(minutes=2), generator_url="http://logwatch/r/1")
    second = make_alert(2, starts_at=now - timedelta(minutes=1))
    stats = DaemonStats()
    config = am_config(monkeypatch, am.url, repost_s=1.0)
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        dispatcher.submit(make_notification(first, second, receiver="am"))
        await wait_until(lambda: len(am.alerts(active="true")) == 2)
        by_route = {a["labels"]["route"]: a for a in am.alerts()}
        got = by_route["default/route-1"]
        assert got["labels"]["alertname"] == "rate_limit_local"
        assert got["annotations"]["summary"] == "local rate limit firing on default/route-1"
        assert got["status"]["state"] == "active"
        assert got["generatorURL"] == "http://logwatch/r/1"
        assert parse(got["startsAt"]) == first.starts_at
        ends_first = parse(got["endsAt"])
        assert (
            now + timedelta(seconds=2) < ends_first < now + timedelta(seconds=30)
        )  # 4 re-posts ahead
        # re-posted while firing: endsAt moves forward
        await wait_until(
            lambda: parse(am.alerts()[0]["endsAt"]) > ends_first + timedelta(milliseconds=900),
            timeout_s=5,
        )
        resolve_at = datetime.now(UTC).replace(microsecond=0)
        dispatcher.submit(
            make_notification(resolved(first, resolve_at), receiver="am", created_at=resolve_at)
        )
        await wait_until(lambda: [a["labels"]["route"] for a in am.alerts()] == ["default/route-2"])
        # the resolved alert stays resolved: re-posts carry only the still-firing one
        await wait_until(lambda: _resolved_alerts(webhook) != [], timeout_s=10)
        assert [a["labels"]["route"] for a in am.alerts(active="true")] == ["default/route-2"]
    assert stats.alert_deliveries["am"] == 2
    for request in webhook.requests:
        assert validate_am_webhook(request.json()) == []  # our webhook schema is Alertmanager's own
    (gone,) = _resolved_alerts(webhook)
    assert gone["labels"]["route"] == "default/route-1"
    assert parse(gone["endsAt"]) == resolve_at


async def test_reposting_resumes_after_a_restart(
    alertmanager_factory: Callable[..., RealAlertmanager],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    am = alertmanager_factory()
    alert = make_alert(5, starts_at=datetime.now(UTC) - timedelta(minutes=1))
    config = am_config(monkeypatch, am.url, repost_s=120.0)
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        dispatcher.submit(make_notification(alert, receiver="am"))
        await wait_until(lambda: len(am.alerts()) == 1)
    (before,) = am.alerts()
    # a new process: the firing alert is re-posted at start, from the outbox's firing table
    async with notification_delivery(config, tmp_path, DaemonStats()):
        await wait_until(lambda: am.alerts()[0]["updatedAt"] != before["updatedAt"], timeout_s=5)
    (after,) = am.alerts()
    assert after["fingerprint"] == before["fingerprint"]
    assert parse(after["endsAt"]) > parse(before["endsAt"])


async def test_alertmanager_down_then_up_delivers_once(
    alertmanager_factory: Callable[..., RealAlertmanager],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    port = free_port()
    config = receivers_config(
        monkeypatch,
        [
            {
                "name": "am",
                "type": "alertmanager",
                "url": f"http://127.0.0.1:{port}",
                "retry": {"max_attempts": 50, "base_backoff_s": 0.05, "max_backoff_s": 0.3},
            }
        ],
    )
    stats = DaemonStats()
    alert = replace(make_alert(3), starts_at=datetime.now(UTC))
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        dispatcher.submit(make_notification(alert, receiver="am"))
        await wait_until(lambda: stats.alert_delivery_failures["am"] >= 2)
        assert stats.alert_deliveries["am"] == 0
        replacement = alertmanager_factory(port=port)  # Alertmanager comes up on that port
        await wait_until(lambda: stats.alert_deliveries["am"] == 1, timeout_s=10)
        assert [a["labels"]["route"] for a in replacement.alerts()] == ["default/route-3"]
    assert stats.alert_dead_letters["am"] == 0


# password "am-basic-pw-4412", bcrypt cost 4 (fast to check)
AM_USER = "logwatch"
AM_PASSWORD = "am-basic-pw-4412"
AM_HASH = "$2b$04$/KTLHf/4Yq25JQyMW9aqw.66wjZeSxs/r5zp6irzUNbrxXSd9tB7W"


async def test_basic_auth_delivers_and_a_wrong_password_is_dead_lettered(
    alertmanager_factory: Callable[..., RealAlertmanager],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    am = alertmanager_factory(basic_auth=(AM_USER, AM_PASSWORD, AM_HASH))
    monkeypatch.setenv("LW_AM_GOOD", AM_PASSWORD)
    monkeypatch.setenv("LW_AM_BAD", "not-the-password-981")
    config = NotifiersConfig.model_validate(
        {
            "receivers": [
                {"name": "am", "type": "alertmanager", "url": am.url,
                 "basic_auth": {"username": AM_USER, "password": {"env": "LW_AM_GOOD"}}},
                {"name": "am-wrong", "type": "alertmanager", "url": am.url,
                 "basic_auth": {"username": AM_USER, "password": {"env": "LW_AM_BAD"}}},
            ]
        }
    )  # fmt: skip
    stats = DaemonStats()
    now = datetime.now(UTC)
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        dispatcher.submit(make_notification(make_alert(1, starts_at=now), receiver="am"))
        dispatcher.submit(make_notification(make_alert(2, starts_at=now), receiver="am-wrong"))
        await wait_until(
            lambda: stats.alert_deliveries["am"] == 1 and stats.alert_dead_letters["am-wrong"] == 1
        )
    assert [a["labels"]["route"] for a in am.alerts()] == ["default/route-1"]
    assert "HTTP 401" in caplog.text
    assert AM_PASSWORD not in caplog.text and "not-the-password-981" not in caplog.text
