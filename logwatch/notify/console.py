"""The default notifier: one readable line per alert on stdout or stderr.

Lines look like ``FIRING critical rate_limit_local route=a/b events=12 since 2026-...``.
Log-derived text is flattened to one line so that content cannot forge extra lines.
"""

from __future__ import annotations

import click

from logwatch.alerts.model import Alert, Notification
from logwatch.notify import render
from logwatch.notify.base import DeliveryResult
from logwatch.notify.config import ConsoleReceiver


def alert_line(alert: Alert) -> str:
    parts = [alert.status.upper(), alert.severity, render.one_line(alert.rule, 100)]
    labels = render.label_pairs(alert)
    if labels:
        parts.append(labels)
    parts.append(f"events={alert.events}")
    parts.append(f"since {render.rfc3339(alert.starts_at)}")
    if alert.ends_at is not None:
        parts.append(f"until {render.rfc3339(alert.ends_at)}")
    origin = render.origin_text(alert)
    if origin:
        parts.append(f"origin: {origin}")
    summary = alert.annotations.get("summary")
    if summary:
        parts.append(f"- {render.one_line(summary)}")
    return " ".join(parts)


class ConsoleNotifier:
    def __init__(self, config: ConsoleReceiver) -> None:
        self.name = config.name
        self._to_stderr = config.stream == "stderr"
        self._closed = False

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.retry("notifier closed")
        try:
            for alert in notification.alerts:
                click.echo(alert_line(alert), err=self._to_stderr)
        except OSError as exc:  # closed or broken pipe: worth another try later
            return DeliveryResult.retry(f"cannot write to console: {exc.strerror}")
        return DeliveryResult.delivered()

    async def aclose(self) -> None:
        self._closed = True
