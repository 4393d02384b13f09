"""Factories for alerts and notifications, loopback receivers and a real Alertmanager."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from logwatch.alerts.model import Alert, AlertStatus, Notification
from logwatch.notify.config import NotifiersConfig
from logwatch.notify.outbox import Outbox
from tests.notify.receivers import GenericWebhook, PagerDutyEvents, SlackWebhook

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, as PagerDuty issues them


def make_alert(n: int = 1, **changes: Any) -> Alert:
    alert = Alert(
        rule="rate_limit_local",
        fingerprint=f"fp{n:04d}",
        status="firing",
        severity="critical",
        labels={
            "alertname": "rate_limit_local",
            "severity": "critical",
            "route": f"default/route-{n}",
        },
        annotations={"summary": f"local rate limit firing on default/route-{n}"},
        starts_at=T0,
        ends_at=None,
        events=10 + n,
    )
    return replace(alert, **changes)


def resolved(alert: Alert, at: datetime | None = None) -> Alert:
    return replace(alert, status="resolved", ends_at=at or alert.starts_at + timedelta(minutes=5))


def make_notification(
    *alerts: Alert, receiver: str = "r", created_at: datetime | None = None
) -> Notification:
    alerts = alerts or (make_alert(),)
    status: AlertStatus = "resolved" if all(a.status == "resolved" for a in alerts) else "firing"
    return Notification(
        receiver=receiver,
        group_key=f"{receiver}:{{route=...}}",
        status=status,
        alerts=tuple(alerts),
        group_labels={"alertname": alerts[0].rule},
        created_at=created_at or T0,
    )


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` every 20 ms; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.02)


@pytest.fixture
def slack() -> Iterator[SlackWebhook]:
    server = SlackWebhook()
    yield server
    server.close()


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyEvents]:
    server = PagerDutyEvents(ROUTING_KEY)
    yield server
    server.close()


@pytest.fixture
def webhook() -> Iterator[GenericWebhook]:
    server = GenericWebhook()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RealAlertmanager:
    def __init__(
        self,
        url: str,
        process: subprocess.Popen[bytes],
        log: Path,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.url = url
        self.process = process
        self.log = log
        self.auth = auth

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/api/v2/alerts", params=params, auth=self.auth, timeout=5)
        reply.raise_for_status()
        result: list[dict[str, Any]] = reply.json()
        return result


@pytest.fixture
def alertmanager_factory(tmp_path: Path) -> Iterator[Callable[[str], RealAlertmanager]]:
    """Start /usr/bin/prometheus-alertmanager on 127.0.0.1 (clustering off) with the given
    receivers YAML section; all are stopped at teardown."""
    started: list[RealAlertmanager] = []

    def start(
        receivers_yaml: str = '  - name: "null"\n',
        route_yaml: str = "",
        port: int | None = None,
        basic_auth: tuple[str, str, str] | None = None,  # user, password, its bcrypt hash
    ) -> RealAlertmanager:
        base = tmp_path / f"am{len(started)}"
        base.mkdir()
        config = base / "alertmanager.yml"
        config.write_text(
            'route:\n  receiver: "null"\n' + route_yaml + "receivers:\n" + receivers_yaml
        )
        extra_args = []
        if basic_auth is not None:
            web = base / "web.yml"
            web.write_text(f"basic_auth_users:\n  {basic_auth[0]}: '{basic_auth[2]}'\n")
            extra_args.append(f"--web.config.file={web}")
        port = port or free_port()
        log = base / "alertmanager.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    "/usr/bin/prometheus-alertmanager",
                    f"--config.file={config}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    f"--storage.path={base / 'data'}",
                    *extra_args,
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        auth = (basic_auth[0], basic_auth[1]) if basic_auth else None
        am = RealAlertmanager(f"http://127.0.0.1:{port}", process, log, auth)
        started.append(am)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{am.url}/-/ready", auth=auth, timeout=1).status_code == 200:
                    return am
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"alertmanager did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    yield start
    for am in started:
        am.process.terminate()
        try:
            am.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            am.process.kill()
            am.process.wait(timeout=10)


def receivers_config(
    monkeypatch: pytest.MonkeyPatch, receivers: list[dict[str, Any]], **delivery: Any
) -> NotifiersConfig:
    """A NotifiersConfig from plain dicts; values under ``secret:`` keys are put in the
    environment and referenced as ``{env: NAME}``, the way users configure secrets."""
    prepared = []
    for i, receiver in enumerate(receivers):
        receiver = dict(receiver)
        for key, value in list(receiver.items()):
            if key.startswith("secret:"):
                name = f"LW_TEST_SECRET_{i}_{key[7:].upper()}"
                monkeypatch.setenv(name, value)
                del receiver[key]
                receiver[key[7:]] = {"env": name}
        prepared.append(receiver)
    return NotifiersConfig.model_validate({"receivers": prepared, "delivery": delivery})


FAST_RETRY = {"max_attempts": 6, "base_backoff_s": 0.05, "max_backoff_s": 0.2}


def state(outbox: Outbox, entry_id: str) -> str:
    """The state of one outbox entry: pending, delivered or dead."""
    found = outbox.state_of(entry_id)
    assert found is not None, f"no outbox entry {entry_id}"
    return found[0]
