"""Build the configured notifiers, and the whole delivery service for the daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from logwatch.clock import Clock, WallClock
from logwatch.daemon_stats import DaemonStats
from logwatch.notify.alertmanager import AlertmanagerNotifier
from logwatch.notify.base import Notifier
from logwatch.notify.config import (
    AlertmanagerReceiver,
    AnyReceiver,
    ConsoleReceiver,
    NotifiersConfig,
    PagerDutyReceiver,
    SlackReceiver,
    WebhookReceiver,
)
from logwatch.notify.console import ConsoleNotifier
from logwatch.notify.dispatcher import Dispatcher
from logwatch.notify.http import SharedHttpClient
from logwatch.notify.outbox import Outbox
from logwatch.notify.pagerduty import PagerDutyNotifier
from logwatch.notify.slack import SlackNotifier
from logwatch.notify.webhook import WebhookNotifier


def _build_one(receiver: AnyReceiver, http: SharedHttpClient, clock: Clock) -> Notifier:
    if isinstance(receiver, ConsoleReceiver):
        return ConsoleNotifier(receiver)
    if isinstance(receiver, SlackReceiver):
        return SlackNotifier(receiver, http, clock)
    if isinstance(receiver, PagerDutyReceiver):
        return PagerDutyNotifier(receiver, http)
    if isinstance(receiver, WebhookReceiver):
        return WebhookNotifier(receiver, http)
    if isinstance(receiver, AlertmanagerReceiver):
        return AlertmanagerNotifier(receiver, http, clock)
    raise TypeError(f"unknown receiver type {type(receiver).__name__}")


def build_notifiers(
    config: NotifiersConfig, *, http: SharedHttpClient | None = None, clock: Clock | None = None
) -> dict[str, Notifier]:
    """One notifier per configured receiver, by name. The HTTP notifiers share one client,
    which closes when the last of them is closed (``aclose`` each notifier)."""
    shared = http or SharedHttpClient()
    notifiers = {r.name: _build_one(r, shared, clock or WallClock()) for r in config.receivers}
    return notifiers


@asynccontextmanager
async def notification_delivery(
    config: NotifiersConfig,
    state_dir: Path,
    stats: DaemonStats,
    clock: Clock | None = None,
) -> AsyncIterator[Dispatcher]:
    """The running delivery service: outbox, notifiers and a started dispatcher. On exit
    the dispatcher stops first (in-flight sends get their grace), then the notifiers and
    the HTTP client close, then the outbox."""
    async with AsyncExitStack() as stack:
        outbox = Outbox(state_dir / config.delivery.outbox_file)
        stack.callback(outbox.close)
        http = SharedHttpClient()
        stack.push_async_callback(http.aclose)
        notifiers = build_notifiers(config, http=http, clock=clock)
        for notifier in notifiers.values():
            stack.push_async_callback(notifier.aclose)
        dispatcher = Dispatcher(
            outbox,
            notifiers,
            {r.name: r.retry for r in config.receivers},
            stats,
            delivery=config.delivery,
            clock=clock,
        )
        stack.push_async_callback(dispatcher.aclose)
        await dispatcher.start()
        yield dispatcher
