"""The broker goes away and comes back: producer and consumer recover, nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from logwatch.kafka.client import ensure_topics
from logwatch.kafka.producer import KafkaRecordSink, PublishError
from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    EPOCH,
    analyzer,
    endpoint,
    envoy_line,
    kafka_config,
    read_ndjson,
    wait_for,
)


def _records(indexes: range) -> object:
    lines = [envoy_line(i, EPOCH) for i in indexes]
    return StreamDecoder(None).feed(b"\n".join(lines) + b"\n").records


def _ids(path: Path) -> set[str]:
    return {str(r["request_id"]) for r in read_ndjson(path)}


def _expected(indexes: range) -> set[str]:
    return {f"00000000-0000-4000-8000-{i:012d}" for i in indexes}


async def test_clients_ride_out_a_broker_restart(broker: Broker, tmp_path: Path) -> None:
    config = kafka_config(broker.bootstrap)
    records_url = f"kafka://{broker.bootstrap}/records"
    sink = KafkaRecordSink(endpoint(config, records_url), flush_timeout_s=3.0)
    out = tmp_path / "records.ndjson"
    file_sink = FileSink(str(out))
    member = analyzer(config, f"{records_url}?group=g", [file_sink]).start()
    try:
        sink.on_records(_records(range(100)))  # type: ignore[arg-type]
        await asyncio.to_thread(sink.flush)
        await wait_for(lambda: _ids(out) >= _expected(range(100)), 60, "the first batch")

        broker.stop()
        sink.on_records(_records(range(100, 200)))  # type: ignore[arg-type]
        with pytest.raises(PublishError):
            await asyncio.to_thread(sink.flush)  # nothing acknowledged: nothing may commit
        await asyncio.sleep(1.0)  # the consumer meanwhile retries with backoff
        assert member.task is not None and not member.task.done()

        # in-memory storage comes back empty, like a replaced broker: recreate the topic
        broker.start()
        await ensure_topics(endpoint(config, records_url), ["records"])
        await asyncio.to_thread(sink.flush)  # the kept records go out now
        await wait_for(
            lambda: _ids(out) >= _expected(range(200)), 90, "the records sent during the outage"
        )
        assert member.task is not None and not member.task.done()
    finally:
        await member.shutdown()
        sink.close()
        file_sink.close()
