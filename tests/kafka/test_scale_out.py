"""Two analyzers share the records topic; one is killed (SIGKILL) mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from logwatch.kafka.producer import KafkaRecordSink
from logwatch.notify.outbox import Outbox
from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    EPOCH,
    analyzer,
    endpoint,
    envoy_line,
    kafka_config,
    publisher,
    read_ndjson,
    wait_for,
)
from tests.kafka.member import alert_member

ROOT = Path(__file__).resolve().parents[2]
PHASE = 1500  # lines per phase
RATE_LIMITED = range(PHASE + 1000, PHASE + 1100)  # all after the kill


def _publish(sink: KafkaRecordSink, indexes: range) -> None:
    """The collector's side: parse lines and publish the records."""
    lines = [envoy_line(i, EPOCH, rate_limited=i in RATE_LIMITED) for i in indexes]
    sink.on_records(StreamDecoder(None).feed(b"\n".join(lines) + b"\n").records)
    sink.flush()


def _ids(path: Path) -> Counter[str]:
    return Counter(str(r["request_id"]) for r in read_ndjson(path))


def _firing(outbox_path: Path, rule: str) -> int:
    outbox = Outbox(outbox_path)
    try:
        entries = outbox.pending("console", 10_000)
        return sum(
            1
            for e in entries
            if (n := e.notification()).status == "firing" and any(a.rule == rule for a in n.alerts)
        )
    finally:
        outbox.close()


async def test_killed_analyzer_loses_nothing_and_alerts_fire_once(
    broker: Broker, tmp_path: Path
) -> None:
    config = kafka_config(broker.bootstrap)
    collector = KafkaRecordSink(endpoint(config, f"kafka://{broker.bootstrap}/records"))
    _publish(collector, range(PHASE))

    a_out, a_outbox = tmp_path / "a.ndjson", tmp_path / "a-outbox.db"
    with (tmp_path / "a.log").open("wb") as a_log:
        killed = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.kafka.member",
            broker.bootstrap,
            str(a_out),
            str(a_outbox),
            "analyzer-a",
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=a_log,
        )
    b_out = tmp_path / "b.ndjson"
    b_sink = FileSink(str(b_out))
    b_signals = publisher(config, "signals", "analyzer-b")
    b_outbox = Outbox(tmp_path / "b-outbox.db")
    survivor = analyzer(
        config, f"kafka://{broker.bootstrap}/records?group=analyzers", [b_sink, b_signals]
    ).start()
    b_alerts = alert_member(broker.bootstrap, b_outbox).start()
    try:
        # both work: each has written records of phase one, and together all of them
        await wait_for(
            lambda: (
                bool(_ids(a_out)) and bool(_ids(b_out)) and len(_ids(a_out) | _ids(b_out)) >= PHASE
            ),
            60,
            "both analyzers to share phase one",
        )
        _publish(collector, range(PHASE, PHASE + PHASE // 2))
        killed.send_signal(signal.SIGKILL)
        await asyncio.wait_for(killed.wait(), 10)
        # the rest, with rate-limited requests
        _publish(collector, range(PHASE + PHASE // 2, 2 * PHASE))
        before = {f"00000000-0000-4000-8000-{i:012d}" for i in range(2 * PHASE)}
        await wait_for(
            lambda: set(_ids(a_out)) | set(_ids(b_out)) >= before, 90, "the survivor to take over"
        )
        # only then a line two hours later: had it come first, the records of the partitions
        # taken over would be later than allowed and could no longer start an alert
        late = 2 * PHASE + int(timedelta(hours=2) / timedelta(milliseconds=100))
        _publish(collector, range(late, late + 1))
        everything = before | {f"00000000-0000-4000-8000-{late:012d}"}
        try:
            await wait_for(
                lambda: (
                    set(_ids(a_out)) | set(_ids(b_out)) >= everything
                    and _firing(tmp_path / "b-outbox.db", "RateLimited") >= 1
                ),
                90,
                "the rate-limit alert",
            )
        except AssertionError as exc:
            driver = b_alerts.pipeline
            missing = everything - set(_ids(a_out)) | set(_ids(b_out))
            state = (
                f"{len(missing)} records missing; "
                f"firing={_firing(tmp_path / 'b-outbox.db', 'RateLimited')}; "
                f"driver={vars(driver)}"
            )
            raise AssertionError(f"{exc}: {state}") from None
    finally:
        if killed.returncode is None:
            killed.kill()
            await asyncio.wait_for(killed.wait(), 10)
        await survivor.shutdown()
        await b_alerts.shutdown()
        b_signals.close()
        b_sink.close()
        b_outbox.close()
        collector.close()

    a_ids, b_ids = _ids(a_out), _ids(b_out)
    # at least once: every record is in a durable output; duplicates only where the killed
    # analyzer had written records it had not committed yet
    assert set(a_ids | b_ids) == everything
    assert all(count == 1 for count in a_ids.values())
    duplicated = {i for i, n in b_ids.items() if n > 1} | (set(a_ids) & set(b_ids))
    assert duplicated <= set(a_ids)
    # exactly one owner decided the rate-limit alert
    assert _firing(tmp_path / "b-outbox.db", "RateLimited") == 1
    assert _firing(a_outbox, "RateLimited") == 0
