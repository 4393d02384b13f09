"""Secrets (webhook URLs, routing keys, HMAC keys, credentials) never reach logs, reasons,
exception text or repr, whatever goes wrong."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import build_notifiers, notification_delivery
from tests.notify.conftest import (
    ROUTING_KEY,
    free_port,
    make_notification,
    receivers_config,
    wait_until,
)
from tests.notify.receivers import LoopbackReceiver, Received

SLACK_TOKEN = "xoxsecretZ9Q7Wq2LmN4"
AM_TOKEN = "bearer-secret-2f8d7c"


class EchoServer(LoopbackReceiver):
    """A broken receiver that answers 400 and echoes the request, headers and body."""

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        echo = f"{request.path} {request.headers} ".encode() + request.body
        return 400, echo, {}


@pytest.fixture
def echo() -> object:
    server = EchoServer()
    yield server
    server.close()


def everything_said(caplog: pytest.LogCaptureFixture, dispatcher: object) -> str:
    outbox = dispatcher._outbox  # type: ignore[attr-defined]
    reasons = [row[0] for row in outbox._conn.execute("SELECT reason FROM outbox")]
    return caplog.text + "\n".join(reasons)


async def test_failures_never_show_secrets(
    echo: EchoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and ours, all levels
    dead_port = free_port()
    retry = {"max_attempts": 2, "base_backoff_s": 0.01, "max_backoff_s": 0.02}
    config = receivers_config(
        monkeypatch,
        [
            {"name": "down", "type": "slack", "secret:webhook_url": f"http://127.0.0.1:{dead_port}/services/{SLACK_TOKEN}", "retry": retry},
            {"name": "badurl", "type": "slack", "secret:webhook_url": f"htp:/{SLACK_TOKEN}", "retry": retry},
            {"name": "echo-slack", "type": "slack", "secret:webhook_url": f"{echo.url}/services/{SLACK_TOKEN}", "retry": retry},
            {"name": "echo-pd", "type": "pagerduty", "secret:routing_key": ROUTING_KEY, "url": echo.url, "retry": retry},
            {"name": "echo-am", "type": "alertmanager", "url": echo.url, "secret:bearer_token": AM_TOKEN, "retry": retry},
        ],
    )  # fmt: skip
    stats = DaemonStats()
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        for name in ("down", "badurl", "echo-slack", "echo-pd", "echo-am"):
            dispatcher.submit(make_notification(receiver=name))
        await wait_until(lambda: sum(stats.alert_dead_letters.values()) == 5, timeout_s=15)
        said = everything_said(caplog, dispatcher)
    assert "connection failed (ConnectError)" in said
    assert "invalid receiver URL" in said
    assert "HTTP 400" in said and "[redacted]" in said
    for secret in (SLACK_TOKEN, ROUTING_KEY, AM_TOKEN, str(dead_port) + "/services"):
        assert secret not in said
    assert len(echo.requests) == 3  # the echoing server did see them: it is the receiver


async def test_successful_sends_do_not_log_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = LoopbackReceiver()
    try:
        config = receivers_config(
            monkeypatch,
            [
                {
                    "name": "chat",
                    "type": "slack",
                    "secret:webhook_url": f"{server.url}/services/{SLACK_TOKEN}",
                }
            ],
        )
        stats = DaemonStats()
        async with notification_delivery(config, tmp_path, stats) as dispatcher:
            dispatcher.submit(make_notification(receiver="chat"))
            await wait_until(lambda: stats.alert_deliveries["chat"] == 1)
    finally:
        server.close()
    assert server.requests[0].path == f"/services/{SLACK_TOKEN}"
    assert caplog.records  # something was logged (httpcore at DEBUG), just not the secret
    assert SLACK_TOKEN not in caplog.text


async def test_notifier_exceptions_are_contained_without_their_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = receivers_config(
        monkeypatch,
        [{"name": "chat", "type": "slack", "secret:webhook_url": f"http://127.0.0.1:1/{SLACK_TOKEN}",
          "retry": {"max_attempts": 2, "base_backoff_s": 0.01, "max_backoff_s": 0.01}}],
    )  # fmt: skip
    stats = DaemonStats()
    async with notification_delivery(config, tmp_path, stats) as dispatcher:
        notifier = dispatcher._notifiers["chat"]

        async def broken_send(notification: object) -> object:
            raise RuntimeError(f"bug while posting to {SLACK_TOKEN}")

        monkeypatch.setattr(notifier, "send", broken_send)
        dispatcher.submit(make_notification(receiver="chat"))
        await wait_until(lambda: stats.alert_dead_letters["chat"] == 1)
        said = everything_said(caplog, dispatcher)
    assert "notifier raised RuntimeError" in said
    assert SLACK_TOKEN not in said


def test_repr_of_notifiers_and_config_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_TEST_AM_PW", "pw-5566")
    config = receivers_config(
        monkeypatch,
        [
            {"name": "chat", "type": "slack", "secret:webhook_url": f"https://hooks.slack.com/services/{SLACK_TOKEN}"},
            {"name": "pd", "type": "pagerduty", "secret:routing_key": ROUTING_KEY},
            {"name": "hook", "type": "webhook", "url": "http://h", "secret:hmac_secret": "hmac-key-77"},
            {"name": "am", "type": "alertmanager", "url": "http://am", "basic_auth": {"username": "u", "password": {"env": "LW_TEST_AM_PW"}}},
        ],
    )  # fmt: skip
    notifiers = build_notifiers(config)
    texts = [repr(config), str(config), *(repr(n) for n in notifiers.values())]
    texts += [repr(vars(n)) for n in notifiers.values() if hasattr(n, "__dict__")]
    for text in texts:
        for secret in (SLACK_TOKEN, ROUTING_KEY, "hmac-key-77", "pw-5566"):
            assert secret not in text
