"""PagerDuty Events API v2: event shape, stable dedup_key, trigger then resolve, retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.config import NotifiersConfig, PagerDutyReceiver
from logwatch.notify.http import SharedHttpClient
from logwatch.notify.pagerduty import PagerDutyNotifier, build_event, dedup_key
from tests.notify.conftest import (
    FAST_RETRY,
    ROUTING_KEY,
    T0,
    make_alert,
    make_notification,
    receivers_config,
    resolved,
    wait_until,
)
from tests.notify.receivers import PagerDutyEvents, Scripted, validate_pagerduty


def pd_config(
    monkeypatch: pytest.MonkeyPatch, server: PagerDutyEvents, **extra: object
) -> NotifiersConfig:
    receiver = {
        "name": "oncall",
        "type": "pagerduty",
        "secret:routing_key": ROUTING_KEY,
        "url": server.enqueue_url,
        "timeout_s": 0.5,
        "retry": FAST_RETRY,
        **extra,
    }
    return receivers_config(monkeypatch, [receiver])


def test_events_follow_the_published_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_PD", ROUTING_KEY)
    config = PagerDutyReceiver(name="p", routing_key={"env": "LW_PD"})
    alert = make_alert(
        1,
        severity="warning",
        origin={"hop": "waypoint"},
        sample_path={"hops": ["a", "b"]},
        generator_url="http://logwatch.local/alerts/fp0001",
        annotations={"summary": "s" * 2000},
    )
    trigger = {"routing_key": ROUTING_KEY, **build_event(alert, config)}
    assert validate_pagerduty(trigger, ROUTING_KEY) == []
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == dedup_key(alert) == "logwatch-fp0001"
    payload = trigger["payload"]
    assert payload["severity"] == "warning" and len(payload["summary"]) == 1024
    assert payload["source"] == "default/route-1"
    assert payload["custom_details"]["origin"] == {"hop": "waypoint"}
    assert trigger["links"] == [{"href": "http://logwatch.local/alerts/fp0001", "text": "logwatch"}]
    resolve = {"routing_key": ROUTING_KEY, **build_event(resolved(alert), config)}
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "logwatch-fp0001",
    }
    assert validate_pagerduty(resolve, ROUTING_KEY) == []


async def test_trigger_and_resolve_survive_429_500_timeouts_without_duplicates(
    pagerduty: PagerDutyEvents, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pagerduty.script.extend(
        [
            Scripted(429, b"", {"Retry-After": "0.3"}),
            Scripted(502),
            Scripted(0, delay_s=1.2),  # accepted, answered too late: the client retries
        ]
    )
    stats = DaemonStats()
    alerts = [make_alert(i) for i in range(4)]
    async with notification_delivery(
        pd_config(monkeypatch, pagerduty), tmp_path, stats
    ) as dispatcher:
        dispatcher.submit(make_notification(*alerts[:2], receiver="oncall"))
        dispatcher.submit(make_notification(*alerts[2:], receiver="oncall"))
        dispatcher.submit(make_notification(*(resolved(a) for a in alerts), receiver="oncall"))
        await wait_until(lambda: stats.alert_deliveries["oncall"] == 3, timeout_s=15)
    assert pagerduty.invalid == []
    keys = [dedup_key(a) for a in alerts]
    # one PagerDuty alert per logwatch alert, opened once and resolved after its trigger(s):
    # the trigger repeated after the timeout landed on the same dedup_key
    assert pagerduty.alerts_opened == dict.fromkeys(keys, 1)
    assert pagerduty.open == set()
    for key in keys:
        actions = pagerduty.actions[key]
        assert actions[-1] == "resolve" and actions.count("resolve") == 1
        assert set(actions[:-1]) == {"trigger"} and len(actions) <= 3
    assert sum(len(actions) for actions in pagerduty.actions.values()) == 9  # one repeat
    assert stats.alert_deliveries["oncall"] == 3
    assert stats.alert_delivery_failures["oncall"] == 3
    assert stats.alert_dead_letters["oncall"] == 0


async def test_400_is_permanent_and_dead_lettered(
    pagerduty: PagerDutyEvents,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pagerduty.routing_key = "another-integration-key-000000000"  # ours is now invalid
    stats = DaemonStats()
    async with notification_delivery(
        pd_config(monkeypatch, pagerduty), tmp_path, stats
    ) as dispatcher:
        dispatcher.submit(make_notification(receiver="oncall"))
        await wait_until(lambda: stats.alert_dead_letters["oncall"] == 1)
    assert len(pagerduty.requests) == 1
    assert "dead-lettered" in caplog.text and "HTTP 400" in caplog.text
    assert ROUTING_KEY not in caplog.text


async def test_retries_until_max_attempts_then_dead_letter(
    pagerduty: PagerDutyEvents, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pagerduty.script.extend([Scripted(503)] * 6)
    stats = DaemonStats()
    config = pd_config(
        monkeypatch,
        pagerduty,
        retry={"max_attempts": 4, "base_backoff_s": 0.02, "max_backoff_s": 0.05},
    )
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        entry_id = dispatcher.submit(make_notification(receiver="oncall"))
        second = dispatcher.submit(make_notification(make_alert(2), receiver="oncall"))
        await wait_until(
            lambda: (
                stats.alert_dead_letters["oncall"] == 1 and stats.alert_deliveries["oncall"] == 1
            )
        )
        outbox = dispatcher._outbox
        assert outbox.state_of(entry_id) == ("dead", 4, "HTTP 503: ")
        assert outbox.state_of(second) == ("delivered", 3, "")
    assert len(pagerduty.requests) == 4 + 3
    assert list(pagerduty.actions) == [dedup_key(make_alert(2))]


async def test_retry_skips_accepted_events_but_a_repeat_sends_all(
    pagerduty: PagerDutyEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = pd_config(monkeypatch, pagerduty)
    receiver = config.receiver("oncall")
    assert isinstance(receiver, PagerDutyReceiver)
    http = SharedHttpClient()
    notifier = PagerDutyNotifier(receiver, http)
    one, two = make_alert(1), make_alert(2)
    note = make_notification(one, two, receiver="oncall")
    pagerduty.script.extend([Scripted(0), Scripted(503)])  # first event accepted, second not
    assert (await notifier.send(note)).outcome == "retry"
    assert (await notifier.send(note)).outcome == "delivered"
    assert [e["dedup_key"] for e in pagerduty.accepted] == [dedup_key(one), dedup_key(two)]
    repeat = make_notification(one, two, receiver="oncall", created_at=T0 + timedelta(hours=4))
    assert (await notifier.send(repeat)).outcome == "delivered"
    assert len(pagerduty.accepted) == 4
    await notifier.aclose()
    await notifier.aclose()
    assert (await notifier.send(note)).outcome == "retry"
