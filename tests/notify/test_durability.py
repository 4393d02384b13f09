"""Notifications put while the receiver is down survive SIGKILL and are delivered once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    deadline = time.monotonic() + 30
    assert writer.stdout is not None
    for line in writer.stdout:
        if line.startswith("PUT "):
            put_ids.append(line.split()[1])
        if line.strip() == "READY" or time.monotonic() > deadline:
            break
    assert len(put_ids) == count, writer.stderr.read() if writer.stderr else ""
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    writer.stdout.close()
    if writer.stderr:
        writer.stderr.close()

    deliverer = run("deliver", str(tmp_path), webhook.url + "/hook")
    out, err = deliverer.communicate(timeout=60)
    assert "DONE 0 25 0" in out, err
    received = [r.headers["x-logwatch-notification-id"] for r in webhook.bodies]
    assert sorted(received) == sorted(put_ids)  # every one, none twice
    assert received == put_ids  # and in the order they were put
