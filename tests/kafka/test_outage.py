"""The broker goes away and comes back: producer and consumer recover, never crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from logwatch.kafka.client import ensure_topics
from logwatch.kafka.producer import KafkaRecordSink, PublishError
from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker, free_port
from tests.kafka.helpers import (
    EPOCH,
    analyzer,
    consume_all,
    endpoint,
    envoy_line,
    kafka_config,
    read_ndjson,
    wait_for,
)


def _records(indexes: range) -> pl.DataFrame:
    lines = [envoy_line(i, EPOCH) for i in indexes]
    return StreamDecoder(None).feed(b"\n".join(lines) + b"\n").records


def _ids(path: Path) -> set[str]:
    return {str(r["request_id"]) for r in read_ndjson(path)}


def _expected(indexes: range) -> set[str]:
    return {f"00000000-0000-4000-8000-{i:012d}" for i in indexes}


async def test_clients_ride_out_an_unresponsive_and_a_restarted_broker(
    broker: Broker, tmp_path: Path
) -> None:
    config = kafka_config(broker.bootstrap)
    records_url = f"kafka://{broker.bootstrap}/records"
    sink = KafkaRecordSink(endpoint(config, records_url), flush_timeout_s=3.0)
    out = tmp_path / "records.ndjson"
    file_sink = FileSink(str(out))
    member = analyzer(config, f"{records_url}?group=g", [file_sink]).start()
    try:
        sink.on_records(_records(range(100)))
        await asyncio.to_thread(sink.flush)
        await wait_for(lambda: _ids(out) >= _expected(range(100)), 60, "the first batch")

        # 1. the broker hangs: publishing times out, nothing is lost, both sides carry on
        broker.pause()
        sink.on_records(_records(range(100, 200)))
        with pytest.raises(PublishError):
            await asyncio.to_thread(sink.flush)  # nothing acknowledged: nothing may commit
        assert member.task is not None and not member.task.done()
        broker.resume()
        await asyncio.to_thread(sink.flush)  # the kept records go out now
        await wait_for(lambda: _ids(out) >= _expected(range(200)), 90, "the held-back records")

        # 2. the broker restarts; its in-memory storage comes back empty, like a replaced
        # broker, so the topic is created again and the group starts afresh
        broker.stop()
        await asyncio.sleep(1.0)  # clients see refused connections and back off
        broker.start()
        await ensure_topics(endpoint(config, records_url), ["records"])
        sink.on_records(_records(range(200, 300)))
        await asyncio.to_thread(_flush_until_acknowledged, sink)
        await wait_for(lambda: _ids(out) >= _expected(range(200, 300)), 90, "records after restart")
        assert member.task is not None and not member.task.done()
    finally:
        await member.shutdown()
        sink.close()
        file_sink.close()


def _flush_until_acknowledged(sink: KafkaRecordSink, attempts: int = 10) -> None:
    for _ in range(attempts):
        try:
            sink.flush()
            return
        except PublishError:
            continue
    raise AssertionError(f"records not acknowledged after {attempts} flushes")


async def test_a_source_that_never_reaches_a_broker_still_stops_on_request(
    tmp_path: Path,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens here
    config = kafka_config(nowhere, request_timeout_ms=1000)
    file_sink = FileSink(str(tmp_path / "none.ndjson"))
    member = analyzer(config, f"kafka://{nowhere}/records?group=g", [file_sink]).start()
    await asyncio.sleep(2.0)  # connection attempts fail and back off, nothing crashes
    assert member.task is not None and not member.task.done()
    await member.shutdown(timeout_s=10.0)
    file_sink.close()
    assert read_ndjson(tmp_path / "none.ndjson") == []


async def test_publishing_more_than_the_pending_bound_between_flushes_goes_on(
    broker: Broker,
) -> None:
    """The bound on unacknowledged records holds a reader back only until the brokers answer:
    it does not wait for a flush, which the blocked reader could never reach."""
    config = kafka_config(broker.bootstrap, max_pending_messages=1000)
    sink = KafkaRecordSink(endpoint(config, f"kafka://{broker.bootstrap}/bounded"))
    try:
        batches = [_records(range(start, start + 400)) for start in range(0, 4000, 400)]

        def publish_all() -> None:
            for batch in batches:  # ten times the bound, no flush in between
                sink.on_records(batch)
            sink.flush()

        await asyncio.wait_for(asyncio.to_thread(publish_all), 60)
        assert sink.published == 4000
    finally:
        sink.close()
    published = consume_all(broker.bootstrap, "bounded", 4000)
    assert len(published) == 4000
