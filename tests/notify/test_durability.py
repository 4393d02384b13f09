"""Notifications put while the receiver is down survive SIGKILL and are delivered once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.notify.conftest import free_port
from tests.notify.receivers import GenericWebhook

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notify.outbox_process", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_killed_with_pending_notifications_then_delivered_exactly_once(
    webhook: GenericWebhook, tmp_path: Path
) -> None:
    count = 25
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    writer = run("put", str(tmp_path), down, str(count))
    put_ids: list[str] = []
    ready = False
    try:
        assert writer.stdout is not None
        # the writer prints READY once all are durable and delivery failed at least twice
        for line in writer.stdout:
            if line.startswith("PUT "):
                put_ids.append(line.split()[1])
            if line.strip() == "READY":
                ready = True
                break
        assert ready and len(put_ids) == count, writer.stderr.read() if writer.stderr else ""
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)
        for stream in (writer.stdout, writer.stderr):
            if stream is not None:
                stream.close()

    deliverer = run("deliver", str(tmp_path), webhook.url + "/hook")
    try:
        out, err = deliverer.communicate(timeout=60)
    finally:
        if deliverer.poll() is None:
            deliverer.kill()
            deliverer.communicate(timeout=10)
    assert "DONE 0 25 0" in out, err
    received = [r.headers["x-logwatch-notification-id"] for r in webhook.bodies]
    assert sorted(received) == sorted(put_ids)  # every one, none twice
    assert received == put_ids  # and in the order they were put
