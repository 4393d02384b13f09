"""Slack incoming webhook: one Block Kit message per notification.

Message shape (Slack's published Block Kit for incoming webhooks): ``text`` (the fallback
shown in notifications), and ``blocks``: a ``header`` (plain_text, at most 150 characters),
one ``section`` (mrkdwn, at most 3000 characters) per listed alert, and a ``context`` block
with the count of alerts not listed. At most 50 blocks.

Safety: every text that can hold log-derived content has ``&``, ``<`` and ``>`` escaped, so a
log line containing ``<!channel>`` or ``<@U123>`` is shown literally and pings no one.

Pacing: Slack accepts about one message per second per webhook; ``send`` waits until
``min_interval_s`` has passed since the previous message to this webhook, and after a 429
until the server's ``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from logwatch.alerts.model import Alert, Notification
from logwatch.clock import Clock, WallClock
from logwatch.notify import render
from logwatch.notify.base import DeliveryResult
from logwatch.notify.config import SlackReceiver
from logwatch.notify.http import SharedHttpClient, url_secrets

HEADER_MAX = 150
SECTION_MAX = 3000
TEXT_MAX = 3000
_ICON = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}


def escape(text: str) -> str:
    """Slack's required escaping for text: ``&`` ``<`` ``>`` become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters without splitting an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _alert_section(alert: Alert) -> dict[str, Any]:
    icon = ":white_check_mark:" if alert.status == "resolved" else _ICON.get(alert.severity, "")
    lines = [f"{icon} *{escape(render.summary(alert, 500))}*"]
    labels = render.label_pairs(alert, 1000)
    if labels:
        lines.append(f"`{escape(labels)}`")
    timing = f"since {render.rfc3339(alert.starts_at)}"
    if alert.ends_at is not None:
        timing += f" until {render.rfc3339(alert.ends_at)}"
    lines.append(f"{escape(alert.severity)} · {alert.events} events · {timing}")
    origin = render.origin_text(alert, 500)
    if origin:
        lines.append(f"origin: {escape(origin)}")
    description = alert.annotations.get("description")
    if description:
        lines.append(escape(render.one_line(description, 800)))
    if alert.generator_url:
        lines.append(escape(render.one_line(alert.generator_url, 400)))
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), SECTION_MAX)},
    }


def title(notification: Notification) -> str:
    rules = sorted({alert.rule for alert in notification.alerts})
    names = ", ".join(rules[:3]) + (f" +{len(rules) - 3}" if len(rules) > 3 else "")
    return render.one_line(f"[{notification.status.upper()}:{len(notification.alerts)}] {names}")


def build_message(notification: Notification, max_alerts_listed: int = 20) -> dict[str, Any]:
    """The webhook JSON for one notification (within Slack's block and text limits)."""
    heading = title(notification)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(escape(heading), HEADER_MAX)},
        }
    ]
    listed = notification.alerts[: min(max_alerts_listed, 45)]
    blocks.extend(_alert_section(alert) for alert in listed)
    context = "logwatch"
    if notification.group_labels:
        pairs = " ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
        context += f" · group {render.one_line(pairs)}"
    hidden = len(notification.alerts) - len(listed)
    if hidden:
        context += f" · {hidden} more alerts not shown"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(escape(context), TEXT_MAX)}],
        }
    )
    fallback = heading
    if notification.alerts:
        fallback += f": {render.summary(notification.alerts[0])}"
    return {"text": _cut(escape(fallback), TEXT_MAX), "blocks": blocks}


class SlackNotifier:
    def __init__(
        self, config: SlackReceiver, http: SharedHttpClient, clock: Clock | None = None
    ) -> None:
        self.name = config.name
        self._config = config
        self._http = http
        self._http.retain()
        self._clock: Clock = clock or WallClock()
        self._next_send_at = 0.0  # monotonic time before which this webhook gets nothing
        self._closed = False

    async def send(self, notification: Notification) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.retry("notifier closed")
        wait = self._next_send_at - self._clock.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        body = orjson.dumps(build_message(notification, self._config.max_alerts_listed))
        result = await self._http.post_result(
            self._config.webhook_url.get_secret_value(),
            body,
            headers={"content-type": "application/json"},
            timeout_s=self._config.timeout_s,
            redact=url_secrets(self._config.webhook_url.get_secret_value()),
        )
        pause = self._config.min_interval_s
        if result.retry_after_s is not None:
            pause = max(pause, result.retry_after_s)
        self._next_send_at = self._clock.monotonic() + pause
        return result

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.release()
