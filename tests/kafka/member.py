"""One analyzer process, for tests that kill it: records -> file + alert signals, and an
alert owner on the signals topic whose notifications go to a real outbox.

    python -m tests.kafka.member BOOTSTRAP OUT_FILE OUTBOX_FILE ANALYZER_ID
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock
from logwatch.kafka.consumer import KafkaSource
from logwatch.kafka.signals import SignalDecoder, SignalsDriver
from logwatch.notify.outbox import Outbox
from logwatch.sinks.file import FileSink
from rules.builtin import builtin_pack
from tests.kafka.helpers import EPOCH, Member, analyzer, endpoint, kafka_config, publisher


def alert_member(bootstrap: str, outbox: Outbox) -> Member:
    config = kafka_config(bootstrap)
    stage = AlertStage(AlertsConfig(), builtin_pack(), clock=ManualClock(EPOCH), outbox=outbox)
    source = KafkaSource(
        endpoint(config, f"kafka://{bootstrap}/signals?group=alerts"), reader=SignalDecoder
    )
    return Member(source, SignalsDriver(stage, stale_after_s=5.0))


async def run(bootstrap: str, out: Path, outbox_path: Path, analyzer_id: str) -> None:
    config = kafka_config(bootstrap)
    sink = FileSink(str(out))
    signals = publisher(config, "signals", analyzer_id)
    outbox = Outbox(outbox_path)
    members = [
        analyzer(config, f"kafka://{bootstrap}/records?group=analyzers", [sink, signals]).start(),
        alert_member(bootstrap, outbox).start(),
    ]
    try:
        await asyncio.gather(*(m.task for m in members if m.task is not None))
    finally:
        signals.close()
        sink.close()
        outbox.close()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]))
