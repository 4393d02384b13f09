"""A daemon-like process for the durability test: ``put`` or ``deliver`` mode.

``put STATE_DIR URL N``: delivers to URL (expected down), submits N notifications, prints
``PUT <id>`` per notification and ``READY`` once all are durable and delivery has been
tried; then waits to be killed.
``deliver STATE_DIR URL``: delivers until nothing is pending, prints ``DONE pending
delivered dead``, exits.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from logwatch.daemon_stats import DaemonStats
from logwatch.notify.build import notification_delivery
from logwatch.notify.config import NotifiersConfig
from tests.notify.conftest import T0, make_alert, make_notification, wait_until


def config(url: str) -> NotifiersConfig:
    retry = {"max_attempts": 1000, "base_backoff_s": 0.05, "max_backoff_s": 0.2}
    return NotifiersConfig.model_validate(
        {
            "receivers": [
                {"name": "hook", "type": "webhook", "url": url, "timeout_s": 2, "retry": retry}
            ]
        }
    )


async def put(state_dir: Path, url: str, count: int) -> None:
    stats = DaemonStats()
    async with notification_delivery(config(url), state_dir, stats) as dispatcher:
        for i in range(count):
            note = make_notification(
                make_alert(i), receiver="hook", created_at=T0 + timedelta(seconds=i)
            )
            print("PUT", dispatcher.submit(note), flush=True)
        await wait_until(lambda: stats.alert_delivery_failures["hook"] >= 2, timeout_s=20)
        print("READY", flush=True)
        await asyncio.sleep(3600)


async def deliver(state_dir: Path, url: str) -> None:
    async with notification_delivery(config(url), state_dir, DaemonStats()) as dispatcher:
        outbox = dispatcher._outbox
        for _ in range(3000):
            if outbox.counts().pending == 0:
                break
            await asyncio.sleep(0.01)
        counts = outbox.counts()
        print("DONE", counts.pending, counts.delivered, counts.dead, flush=True)


if __name__ == "__main__":
    mode, state, target = sys.argv[1:4]
    if mode == "put":
        asyncio.run(put(Path(state), target, int(sys.argv[4])))
    else:
        asyncio.run(deliver(Path(state), target))
