"""Slack incoming webhook: Block Kit shape, escaping, pacing, 429/500/timeout handling."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.slack import build_message
from tests.notify.conftest import (
    FAST_RETRY,
    T0,
    make_alert,
    make_notification,
    receivers_config,
    resolved,
    wait_until,
)
from tests.notify.receivers import Scripted, SlackWebhook, validate_slack


def hostile_alert() -> object:
    return make_alert(
        7,
        labels={
            "alertname": "rate_limit_local",
            "severity": "critical",
            "route": "default/<!channel> & <@U123>",
            "path": "/login?<!here>",
        },
        annotations={"summary": "RL on <!channel> <@U123> & friends", "description": "<#C999>"},
        origin={"hop": "<!everyone>"},
    )


def test_message_is_valid_block_kit_and_log_text_is_escaped() -> None:
    message = build_message(make_notification(hostile_alert(), make_alert(8)))  # type: ignore[arg-type]
    assert validate_slack(message) == []
    assert [block["type"] for block in message["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
    ]
    section = message["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in section and "&lt;@U123&gt;" in section and "&amp;" in section
    assert (
        "&lt;!here&gt;" in section and "&lt;!everyone&gt;" in section and "&lt;#C999&gt;" in section
    )
    assert "&lt;!channel&gt;" in message["text"]

    def texts(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [t for v in value.values() for t in texts(v)]
        if isinstance(value, list):
            return [t for v in value for t in texts(v)]
        return []

    for text in texts(message):
        assert "<" not in text and ">" not in text


def test_large_notifications_stay_within_slack_limits() -> None:
    many = [
        make_alert(i, annotations={"summary": "x" * 5000, "description": "&" * 4000})
        for i in range(60)
    ]
    message = build_message(make_notification(*many), max_alerts_listed=45)
    assert validate_slack(message) == []
    assert len(message["blocks"]) <= 50
    assert "15 more alerts not shown" in message["blocks"][-1]["elements"][0]["text"]
    long_rule = make_alert(1, rule="r" * 400)
    assert validate_slack(build_message(make_notification(long_rule))) == []


async def test_delivery_through_429_500_and_timeout_loses_and_duplicates_nothing(
    slack: SlackWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = receivers_config(
        monkeypatch,
        [
            {
                "name": "chat",
                "type": "slack",
                "secret:webhook_url": slack.webhook_url,
                "min_interval_s": 0.2,
                "timeout_s": 0.5,
                "retry": FAST_RETRY,
            }
        ],
    )
    slack.script.extend(
        [
            Scripted(429, b"rate_limited", {"Retry-After": "1"}),
            Scripted(500, b"rollup_error"),
            Scripted(200, b"ok", delay_s=1.5),  # answered after the client gave up
        ]
    )
    stats = DaemonStats()
    alerts = [make_alert(i) for i in range(3)]
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        for alert in alerts:
            dispatcher.submit(make_notification(alert, receiver="chat"))
        dispatcher.submit(make_notification(resolved(alerts[0]), receiver="chat", created_at=T0))
        await wait_until(lambda: len(slack.messages) == 4, timeout_s=15)
    assert slack.invalid == [] and slack.mentions == []
    headers = [m["blocks"][0]["text"]["text"] for m in slack.messages]
    assert headers == [
        "[FIRING:1] rate_limit_local",
        "[FIRING:1] rate_limit_local",
        "[FIRING:1] rate_limit_local",
        "[RESOLVED:1] rate_limit_local",
    ]
    routes = [m["blocks"][1]["text"]["text"].split("`")[1] for m in slack.messages[:3]]
    assert routes == [f"route=default/route-{i}" for i in range(3)]  # in order, once each
    arrivals = [r.at for r in slack.requests]
    assert arrivals[1] - arrivals[0] >= 0.95  # Retry-After: 1 honoured
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(arrivals))  # paced
    assert stats.alert_deliveries["chat"] == 4
    assert stats.alert_delivery_failures["chat"] == 3


async def test_default_pacing_is_about_one_message_per_second(
    slack: SlackWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = receivers_config(
        monkeypatch, [{"name": "chat", "type": "slack", "secret:webhook_url": slack.webhook_url}]
    )
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        for i in range(3):
            dispatcher.submit(make_notification(make_alert(i), receiver="chat"))
        await wait_until(lambda: len(slack.messages) == 3, timeout_s=10)
    arrivals = [r.at for r in slack.requests]
    assert [b - a >= 0.9 for a, b in itertools.pairwise(arrivals)] == [
        True,
        True,
    ]


async def test_rejected_payload_is_dead_lettered_not_retried(
    slack: SlackWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = receivers_config(
        monkeypatch,
        [
            {
                "name": "chat",
                "type": "slack",
                "secret:webhook_url": slack.url + "/services/revoked",
                "retry": FAST_RETRY,
            }
        ],
    )
    stats = DaemonStats()
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        dispatcher.submit(make_notification(receiver="chat"))
        await wait_until(lambda: stats.alert_dead_letters["chat"] == 1)
    assert len(slack.requests) == 1  # a 404 no_service is permanent
