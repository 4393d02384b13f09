"""Delivers the outbox to the receivers: in order, with backoff, dead letters and re-posts.

One asyncio task per receiver. Each takes its oldest pending entry (notifications reach a
receiver in the order they were put, so a resolve never overtakes its trigger) and sends
it when due:

- ``delivered``: marked delivered, counted in ``DaemonStats.alert_deliveries``.
- ``retry``: counted in ``alert_delivery_failures``; the entry is due again after the
  server's Retry-After (bounded by the policy's ``max_retry_after_s``) or else after an
  exponential backoff with full jitter: uniform(0, min(max, base * 2**(attempts-1))).
  While it waits, later entries of that receiver wait too.
- ``failed`` (permanent), or ``max_attempts`` reached, or an unreadable entry, or an unknown
  receiver: dead-lettered, counted in ``alert_dead_letters`` and logged at ERROR.

Receivers that forget firing alerts (``Reposting``: Alertmanager) get their still-firing
alerts re-sent every ``repost_interval_s``, from the outbox's durable firing table, so
re-posting resumes right after a restart.

Shutdown (``aclose``): no new send starts; an in-flight send gets ``shutdown_timeout_s`` to
finish (and its outcome is recorded), then it is cancelled and its entry stays pending for
the next start. Nothing is lost; a cancelled send may be repeated (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import threading
from collections.abc import Mapping, Sequence

from logwatch.alerts.model import Notification
from logwatch.clock import Clock, WallClock
from logwatch.daemon_stats import DaemonStats
from logwatch.notify.base import DeliveryResult, Notifier, Reposting
from logwatch.notify.codec import UndecodableNotification
from logwatch.notify.config import DeliveryConfig, RetryPolicy
from logwatch.notify.outbox import Outbox, OutboxEntry

logger = logging.getLogger("logwatch.notify")

_PRUNE_EVERY_S = 3600.0
# a pipeline thread waits at most this long for the loop to store its notifications
_CROSS_THREAD_SUBMIT_TIMEOUT_S = 30.0


def backoff_s(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """Full-jitter exponential backoff before attempt ``attempts + 1``."""
    ceiling = min(policy.max_backoff_s, policy.base_backoff_s * 2.0 ** min(attempts - 1, 60))
    return rng.uniform(0.0, ceiling)


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier],
        policies: Mapping[str, RetryPolicy],
        stats: DaemonStats,
        *,
        delivery: DeliveryConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._policies = dict(policies)
        self._stats = stats
        self._delivery = delivery or DeliveryConfig()
        self._clock: Clock = clock or WallClock()
        self._rng = rng or random.Random()
        self._wakeups = {name: asyncio.Event() for name in self._notifiers}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._closed = False
        self._pruned_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def submit(self, notification: Notification) -> str:
        """Put ``notification`` in the outbox (durable on return) and wake its receiver.
        Returns the notification id. A notification for an unknown receiver is
        dead-lettered at once. Raises sqlite3.Error when it could not be stored: the
        caller then knows it is not durable. Safe to call from any thread (see
        ``submit_many``)."""
        return self.submit_many((notification,))[0]

    def submit_many(self, notifications: Sequence[Notification]) -> list[str]:
        """``submit`` for several notifications with one disk sync (all or none stored).

        The outbox lives on the event loop thread (SQLite connections are not shared across
        threads); a call from another thread, such as the daemon's pipeline worker, hands
        the write to the loop and waits for it, so it is still durable on return."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            future = asyncio.run_coroutine_threadsafe(self._submit_on_loop(notifications), loop)
            return future.result(timeout=_CROSS_THREAD_SUBMIT_TIMEOUT_S)
        return self._submit_here(notifications)

    async def _submit_on_loop(self, notifications: Sequence[Notification]) -> list[str]:
        return self._submit_here(notifications)

    def _submit_here(self, notifications: Sequence[Notification]) -> list[str]:
        now = self._now()
        stored = self._outbox.put_many(notifications, now)
        for notification, (entry_id, new) in zip(notifications, stored, strict=True):
            if new and notification.receiver not in self._notifiers:
                self._dead_letter(notification.receiver, entry_id, "unknown receiver", now, None)
            self.wake(notification.receiver)
        if now - self._pruned_at > _PRUNE_EVERY_S:
            self._pruned_at = now
            self._outbox.prune(now - self._delivery.keep_delivered_s)
        return [entry_id for entry_id, _ in stored]

    def wake(self, receiver: str | None = None) -> None:
        """Look at the outbox now (one receiver, or all)."""
        for name, event in self._wakeups.items():
            if receiver is None or name == receiver:
                event.set()

    async def start(self) -> None:
        """Dead-letter entries of receivers no longer configured, forget old delivered
        entries, and start one delivery task per receiver."""
        if self._tasks or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        now = self._now()
        for receiver in sorted(self._outbox.pending_receivers() - self._notifiers.keys()):
            count = self._outbox.mark_receiver_dead(receiver, "unknown receiver", now)
            self._stats.alert_dead_letters[receiver] += count
            logger.error("dead-lettered %d notifications for unknown receiver %s", count, receiver)
        self._outbox.prune(now - self._delivery.keep_delivered_s)
        self._pruned_at = now
        for name in self._notifiers:
            self._tasks.append(asyncio.create_task(self._run(name), name=f"notify:{name}"))

    async def aclose(self) -> None:
        """Stop delivering (see module doc). Idempotent; does not close notifiers or outbox."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self.wake()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self._delivery.shutdown_timeout_s)
        for task in late:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                logger.error("notification task failed: %s", type(result).__name__)

    async def _run(self, name: str) -> None:
        """The delivery task of one receiver. A storage error (disk full, locked file) is
        logged and retried after ``idle_poll_s``: it must not end delivery for good."""
        notifier = self._notifiers[name]
        wakeup = self._wakeups[name]
        repost_every = notifier.repost_interval_s if isinstance(notifier, Reposting) else None
        next_repost = 0.0  # at start: re-post at once, the receiver may have expired them
        while not self._stopping:
            wakeup.clear()
            try:
                wait_s, blocked = await self._drain(notifier)
                if repost_every is not None and not blocked and not self._stopping:
                    if self._now() >= next_repost:
                        await self._repost(notifier)
                        next_repost = self._now() + repost_every
                    wait_s = min(wait_s, next_repost - self._now())
            except sqlite3.Error as exc:
                logger.error("outbox error while delivering to %s: %s", name, exc)
                wait_s = self._delivery.idle_poll_s
            if wait_s > 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout=wait_s)

    async def _drain(self, notifier: Notifier) -> tuple[float, bool]:
        """Deliver due entries of one receiver in order until one must wait. Returns how
        long to sleep, and whether the head of the queue is waiting for a retry."""
        while not self._stopping:
            entries = self._outbox.pending(notifier.name, self._delivery.batch)
            for entry in entries:
                if self._stopping:
                    break
                now = self._now()
                if entry.next_at > now:
                    return entry.next_at - now, True
                retry_at = await self._deliver(notifier, entry)
                if retry_at is not None:
                    return retry_at - self._now(), True
            if len(entries) < self._delivery.batch:
                break
        return self._delivery.idle_poll_s, False

    async def _deliver(self, notifier: Notifier, entry: OutboxEntry) -> float | None:
        """Send one entry and record the outcome; returns when to retry it, else None."""
        name = notifier.name
        try:
            notification = entry.notification()
        except UndecodableNotification as exc:
            self._dead_letter(name, entry.id, str(exc), self._now(), entry.attempts)
            return None
        try:
            result = await notifier.send(notification)
        # a notifier bug must not stop delivery; the exception text is left out: it may hold secrets
        except Exception as exc:
            result = DeliveryResult.retry(f"notifier raised {type(exc).__name__}")
        now = self._now()
        attempts = entry.attempts + 1
        if result.outcome == "delivered":
            self._outbox.mark_delivered(entry.id, now, attempts)
            self._stats.alert_deliveries[name] += 1
            if isinstance(notifier, Reposting):
                self._outbox.firing_update(name, notification.alerts)
            logger.debug("delivered notification %s to %s", entry.id, name)
            return None
        self._stats.alert_delivery_failures[name] += 1
        policy = self._policies.get(name) or RetryPolicy()
        if result.outcome == "failed" or attempts >= policy.max_attempts:
            self._dead_letter(name, entry.id, result.reason, now, attempts)
            return None
        if result.retry_after_s is not None:
            delay = min(result.retry_after_s, policy.max_retry_after_s)
        else:
            delay = backoff_s(policy, attempts, self._rng)
        self._outbox.mark_retry(entry.id, now + delay, attempts, result.reason, now)
        logger.warning(
            "notification %s to %s not delivered (attempt %d/%d): %s; retrying in %.1fs",
            entry.id,
            name,
            attempts,
            policy.max_attempts,
            result.reason,
            delay,
        )
        return now + delay

    def _dead_letter(
        self, receiver: str, entry_id: str, reason: str, now: float, attempts: int | None
    ) -> None:
        self._outbox.mark_dead(entry_id, reason, now, attempts)
        self._stats.alert_dead_letters[receiver] += 1
        logger.error(
            "notification %s to %s dead-lettered after %s attempts: %s",
            entry_id,
            receiver,
            attempts if attempts is not None else 0,
            reason,
        )

    async def _repost(self, notifier: Notifier) -> None:
        alerts = self._outbox.firing(notifier.name)
        if not alerts:
            return
        repost = Notification(
            receiver=notifier.name,
            group_key="repost",
            status="firing",
            alerts=tuple(alerts),
            created_at=self._clock.now(),
        )
        try:
            result = await notifier.send(repost)
        except Exception as exc:  # same reasoning as in _deliver
            result = DeliveryResult.retry(f"notifier raised {type(exc).__name__}")
        if result.outcome != "delivered":
            self._stats.alert_delivery_failures[notifier.name] += 1
            logger.warning(
                "re-posting %d firing alerts to %s failed: %s",
                len(alerts),
                notifier.name,
                result.reason,
            )
