"""Poison messages go to the dead-letter topic, are counted, and never block a partition."""

from __future__ import annotations

from pathlib import Path

import orjson

from logwatch.sinks.file import FileSink
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    EPOCH,
    analyzer,
    consume_all,
    envoy_line,
    kafka_config,
    produce_raw,
    read_ndjson,
    run_until,
)

RECORD_HEADERS: list[tuple[str, str | bytes | None]] = [
    ("kind", b"envoy"),
    ("format", b"envoy-json"),
]


async def test_poison_messages_are_dead_lettered_counted_and_committed(
    broker: Broker, tmp_path: Path
) -> None:
    good = [envoy_line(i, EPOCH) for i in range(20)]
    produce_raw(broker.bootstrap, "in", good[:10], key=b"k")
    # claims to be a logwatch record (headers) but is not JSON
    produce_raw(broker.bootstrap, "in", [b"{not json"], key=b"k", headers=RECORD_HEADERS)
    # a record with a value of the wrong type
    produce_raw(
        broker.bootstrap,
        "in",
        [
            orjson.dumps(
                {
                    "kind": "envoy",
                    "format": "envoy-json",
                    "time": "2025-07-18T03:00:00Z",
                    "signals": [],
                    "response_code": "abc",
                }
            )
        ],
        key=b"k",
        headers=RECORD_HEADERS,
    )
    # a Fluent Bit record whose line is not a string, and bytes that are not UTF-8
    produce_raw(
        broker.bootstrap, "in", [b'{"log": 42, "kubernetes": {}}', b"\xff\xfe\x00"], key=b"k"
    )
    produce_raw(broker.bootstrap, "in", good[10:], key=b"k")

    config = kafka_config(broker.bootstrap)
    out = tmp_path / "records.ndjson"
    sink = FileSink(str(out))
    member = analyzer(config, f"kafka://{broker.bootstrap}/in?group=g&dead_letter=dlq", [sink])

    async def close() -> None:
        sink.close()

    await run_until(
        [member],
        lambda: len(read_ndjson(out)) >= 20 and member.source.dead_lettered >= 4,
        60,
        "good records out and poison dead-lettered",
        close,
    )
    assert len(read_ndjson(out)) == 20
    assert member.source.dead_lettered == 4
    stats = member.pipeline.stats  # type: ignore[attr-defined]
    assert stats.malformed_by_reason["kafka-poison"] == 4

    dead = consume_all(broker.bootstrap, "dlq", 4)
    assert len(dead) == 4
    values = {value for _key, value, _headers in dead}
    assert values >= {b"{not json", b'{"log": 42, "kubernetes": {}}', b"\xff\xfe\x00"}
    for _key, _value, headers in dead:
        names = dict(headers)
        assert names["logwatch-source"].startswith(b"in/")
        assert names["logwatch-reason"]

    # the offsets were committed past the poison: a new member of the group reads nothing
    again = tmp_path / "again.ndjson"
    second_sink = FileSink(str(again))
    second = analyzer(
        config, f"kafka://{broker.bootstrap}/in?group=g&dead_letter=dlq", [second_sink]
    )
    produce_raw(broker.bootstrap, "in", [envoy_line(99, EPOCH)], key=b"k")

    async def close_second() -> None:
        second_sink.close()

    await run_until(
        [second], lambda: len(read_ndjson(again)) >= 1, 60, "the new line", close_second
    )
    assert [r["request_id"] for r in read_ndjson(again)] == ["00000000-0000-4000-8000-000000000099"]
    assert second.source.dead_lettered == 0
