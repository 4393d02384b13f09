"""Dispatcher: backoff, Retry-After bounds, wake-up, dead letters, ordering, shutdown."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.config import NotifiersConfig, RetryPolicy
from logwatch.notify.dispatcher import backoff_s
from logwatch.notify.outbox import Outbox, OutboxEntry
from tests.notify.conftest import (
    FAST_RETRY,
    make_alert,
    make_notification,
    receivers_config,
    resolved,
    state,
    wait_until,
)
from tests.notify.receivers import GenericWebhook, Scripted


def hook_config(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    retry: dict[str, float] | None = None,
    **delivery: float,
) -> NotifiersConfig:
    receiver = {
        "name": "hook",
        "type": "webhook",
        "url": url,
        "timeout_s": 5,
        "retry": retry or FAST_RETRY,
    }
    return receivers_config(monkeypatch, [receiver], **delivery)


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_backoff_s=1.0, max_backoff_s=30.0)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (200, 30.0)]:
        samples = [backoff_s(policy, attempts, rng) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling  # spread, not fixed


async def test_submit_wakes_the_dispatcher_at_once(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = hook_config(monkeypatch, webhook.url, idle_poll_s=60)
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        await asyncio.sleep(0.1)  # the task is now idle for up to 60 s
        started = time.monotonic()
        dispatcher.submit(make_notification(receiver="hook"))
        await wait_until(lambda: len(webhook.bodies) == 1, timeout_s=5)
        assert time.monotonic() - started < 5.0  # not the 60 s idle poll


async def test_retry_after_is_honoured_but_bounded(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook.script.append(Scripted(429, headers={"Retry-After": "3600"}))
    retry = {**FAST_RETRY, "max_retry_after_s": 0.5}
    async with notification_delivery(
        hook_config(monkeypatch, webhook.url, retry), tmp_path, DaemonStats()
    ) as dispatcher:
        dispatcher.submit(make_notification(receiver="hook"))
        await wait_until(lambda: len(webhook.bodies) == 1, timeout_s=5)
    first, second = webhook.requests
    assert 0.45 <= second.at - first.at < 2.0


async def test_resolve_waits_for_its_trigger_under_retries(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook.script.extend([Scripted(500), Scripted(500), Scripted(500)])
    alert = make_alert(1)
    async with notification_delivery(
        hook_config(monkeypatch, webhook.url), tmp_path, DaemonStats()
    ) as dispatcher:
        dispatcher.submit(make_notification(alert, receiver="hook"))
        dispatcher.submit(make_notification(resolved(alert), receiver="hook"))
        await wait_until(lambda: len(webhook.bodies) == 2, timeout_s=10)
    assert [r.json()["status"] for r in webhook.bodies] == ["firing", "resolved"]


async def test_unknown_receivers_and_unreadable_entries_are_dead_lettered(
    webhook: GenericWebhook,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.put(make_notification(receiver="removed-from-config"), now=1.0)
    outbox.put(make_notification(make_alert(5), receiver="removed-from-config"), now=1.0)
    broken, _ = outbox.put(make_notification(make_alert(1), receiver="hook"), now=1.0)
    good, _ = outbox.put(make_notification(make_alert(2), receiver="hook"), now=1.0)
    outbox._conn.execute("UPDATE outbox SET body = x'00ff' WHERE id = ?", (broken,))
    outbox._conn.commit()
    outbox.close()
    stats = DaemonStats()
    async with notification_delivery(
        hook_config(monkeypatch, webhook.url), tmp_path, stats
    ) as dispatcher:
        assert stats.alert_dead_letters["removed-from-config"] == 2
        dispatcher.submit(make_notification(receiver="typo"))
        assert stats.alert_dead_letters["typo"] == 1
        await wait_until(lambda: len(webhook.bodies) == 1)
        assert state(dispatcher._outbox, good) == "delivered"
        assert state(dispatcher._outbox, broken) == "dead"
        assert stats.alert_dead_letters["hook"] == 1
        counts = dispatcher._outbox.counts()
        assert (counts.pending, counts.delivered, counts.dead) == (0, 1, 4)
    assert "unknown receiver removed-from-config" in caplog.text
    assert "not readable" in caplog.text


async def test_shutdown_lets_the_in_flight_send_finish(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook.script.append(Scripted(200, delay_s=0.5))
    stats = DaemonStats()
    config = hook_config(monkeypatch, webhook.url, shutdown_timeout_s=3)
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        first = dispatcher.submit(make_notification(make_alert(1), receiver="hook"))
        second = dispatcher.submit(make_notification(make_alert(2), receiver="hook"))
        await wait_until(lambda: len(webhook.requests) == 1)
        outbox = dispatcher._outbox
        started = time.monotonic()
        await dispatcher.aclose()
        assert time.monotonic() - started < 2.9  # within the grace period
        await dispatcher.aclose()  # idempotent
        assert state(outbox, first) == "delivered"  # finished within the grace period
        assert state(outbox, second) == "pending"  # not started: left for the next run
    assert stats.alert_deliveries["hook"] == 1
    assert len(webhook.requests) == 1


async def test_shutdown_cancels_a_send_that_overruns_and_keeps_it_pending(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    webhook.script.append(Scripted(200, delay_s=6))
    config = hook_config(monkeypatch, webhook.url, shutdown_timeout_s=0.3)
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        entry = dispatcher.submit(make_notification(receiver="hook"))
        await wait_until(lambda: len(webhook.requests) == 1)
        started = time.monotonic()
        await dispatcher.aclose()
        assert time.monotonic() - started < 4.0  # did not wait for the 6 s answer
        assert dispatcher._outbox.state_of(entry) == ("pending", 0, "")
    # the next run delivers it
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        await wait_until(lambda: len(webhook.bodies) == 1)
        assert state(dispatcher._outbox, entry) == "delivered"


async def test_a_storage_error_is_logged_and_delivery_goes_on(
    webhook: GenericWebhook,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = hook_config(monkeypatch, webhook.url, idle_poll_s=0.2)
    async with notification_delivery(config, tmp_path, DaemonStats()) as dispatcher:
        outbox = dispatcher._outbox
        real_pending = outbox.pending
        failures = iter([sqlite3.OperationalError("disk I/O error")])

        def flaky_pending(receiver: str, limit: int) -> list[OutboxEntry]:
            for failure in failures:
                raise failure
            return real_pending(receiver, limit)

        monkeypatch.setattr(outbox, "pending", flaky_pending)
        dispatcher.submit(make_notification(receiver="hook"))
        await wait_until(lambda: len(webhook.bodies) == 1, timeout_s=5)
    assert "outbox error while delivering to hook: disk I/O error" in caplog.text


async def test_submit_many_delivers_all_in_order(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stats = DaemonStats()
    notes = [make_notification(make_alert(i), receiver="hook") for i in range(5)]
    notes.append(make_notification(receiver="nowhere"))
    async with notification_delivery(
        hook_config(monkeypatch, webhook.url), tmp_path, stats
    ) as dispatcher:
        ids = dispatcher.submit_many(notes)
        await wait_until(lambda: len(webhook.bodies) == 5)
    received = [r.headers["x-logwatch-notification-id"] for r in webhook.bodies]
    assert received == ids[:5]
    assert stats.alert_dead_letters["nowhere"] == 1


async def test_submit_from_a_worker_thread_is_durable_on_return(
    webhook: GenericWebhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The daemon runs the pipeline (and so the alert stage) on a worker thread: submit
    from there must store on the loop's outbox connection and be durable when it returns."""
    notes = [make_notification(make_alert(i), receiver="hook") for i in range(3)]
    async with notification_delivery(
        hook_config(monkeypatch, webhook.url, idle_poll_s=60), tmp_path, DaemonStats()
    ) as dispatcher:
        ids = await asyncio.to_thread(lambda: [dispatcher.submit(n) for n in notes])
        stored = Outbox(tmp_path / NotifiersConfig().delivery.outbox_file)
        try:
            counts = stored.counts()
            assert counts.pending + counts.delivered == 3
        finally:
            stored.close()
        await wait_until(lambda: len(webhook.bodies) == 3)
    assert [r.headers["x-logwatch-notification-id"] for r in webhook.bodies] == ids
