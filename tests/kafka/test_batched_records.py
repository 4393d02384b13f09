"""The batched record encoding: many records per message, read back like single records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from logwatch.kafka.decode import PartitionDecoder, merge_batches
from logwatch.kafka.serde import EncodedRecords, encode_records, partition_of
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    EPOCH,
    FIXTURES,
    FileSink,
    analyzer,
    collector,
    consume_all,
    envoy_line,
    kafka_config,
    produce_raw,
    read_ndjson,
    run_until,
)

SAMPLES = ("envoy-gateway.jsonl", "ztunnel.log", "istio-text.log", "cri.log")


@dataclass(frozen=True)
class Message:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _records() -> pl.DataFrame:
    frames = [StreamDecoder(None).feed((FIXTURES / name).read_bytes()).records for name in SAMPLES]
    return pl.concat(frames)


def _messages(encoded: EncodedRecords, partition: int) -> list[Message]:
    assert encoded.partitions is not None
    return [
        Message(offset, key, value, tuple(headers))
        for offset, (key, value, headers) in enumerate(
            (k, v, h)
            for p, k, v, h in zip(
                encoded.partitions, encoded.keys, encoded.values, encoded.headers, strict=True
            )
            if p == partition
        )
    ]


def _comparable(frame: pl.DataFrame) -> list[str]:
    """Rows apart from where they came from (file and line number are the transport's)."""
    return sorted(map(str, frame.drop("file", "lineno").rows()))


def test_batches_hold_what_single_records_hold_in_the_same_partitions() -> None:
    records = _records()
    assert records.height > 30
    single = encode_records(records, 4)
    batched = encode_records(records, 4, records_per_message=5)
    assert len(batched.values) < len(single.values)
    for partition in range(4):
        one = PartitionDecoder("records", partition).decode(_messages(single, partition))
        many = PartitionDecoder("records", partition).decode(_messages(batched, partition))
        assert many.rejections == () and many.poison == ()
        assert many.lines == one.lines
        assert _comparable(many.records) == _comparable(one.records)
    for key, headers, partition in zip(
        batched.keys, batched.headers, batched.partitions or [], strict=True
    ):
        names = dict(headers)
        assert names["kind"] in {b"envoy", b"ztunnel"}
        assert 1 <= int(names["records"]) <= 5
        assert partition_of(key, 4) == partition


def test_a_bad_record_in_a_batch_is_dead_lettered_alone() -> None:
    records = _records().filter(pl.col("kind") == "envoy").head(3)
    encoded = encode_records(records, 1, records_per_message=10)
    assert len(encoded.values) == 1
    lines = encoded.values[0].split(b"\n")
    value = b"\n".join([lines[0], b"{not json", *lines[1:]])
    message = Message(7, encoded.keys[0], value, tuple(encoded.headers[0]))
    batch = PartitionDecoder("records", 0).decode([message])
    assert batch.records.height == 3
    assert [(p.offset, p.value) for p in batch.poison] == [(7, b"{not json")]
    assert batch.lines == 4
    assert batch.commit_offset == 8


def test_partition_batches_merge_into_one_pipeline_batch() -> None:
    records = _records()
    encoded = encode_records(records, 2, records_per_message=50)
    parts = [PartitionDecoder("records", p).decode(_messages(encoded, p)) for p in range(2)]
    merged = merge_batches(parts)
    assert merged.records.height == records.height
    assert merged.lines == sum(part.lines for part in parts)
    assert set(merged.records.get_column("file")) == {"records-0", "records-1"}


async def test_a_batching_collector_feeds_an_analyzer_every_record(
    broker: Broker, tmp_path: Path
) -> None:
    lines = [envoy_line(i, EPOCH) for i in range(300)]
    produce_raw(broker.bootstrap, "raw", lines, key=b"pod-a")
    config = kafka_config(broker.bootstrap).model_copy(update={"records_per_message": 40})
    first, kafka_sink = collector(
        config,
        f"kafka://{broker.bootstrap}/raw?group=collectors",
        f"kafka://{broker.bootstrap}/records",
    )
    out = tmp_path / "records.ndjson"
    sink = FileSink(str(out))
    second = analyzer(config, f"kafka://{broker.bootstrap}/records?group=analyzers", [sink])

    async def close() -> None:
        kafka_sink.close()
        sink.close()

    await run_until([first, second], lambda: len(read_ndjson(out)) >= 300, 60, "300 records", close)
    got = read_ndjson(out)
    assert sorted(str(r["request_id"]) for r in got) == sorted(
        f"00000000-0000-4000-8000-{i:012d}" for i in range(300)
    )
    # fewer messages than records, each carrying its count
    published = consume_all(broker.bootstrap, "records", 300, timeout_s=5.0)
    assert sum(int(dict(headers)["records"]) for _key, _value, headers in published) == 300
    assert len(published) < 300
    assert second.source.dead_lettered == 0
