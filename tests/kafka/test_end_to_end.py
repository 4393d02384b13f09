"""Raw lines (written by an independent client) -> collector -> records topic -> analyzer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    FIXTURES,
    analyzer,
    collector,
    consume_all,
    kafka_config,
    produce_raw,
    read_ndjson,
    run_until,
)

SAMPLES = ("envoy-gateway.jsonl", "ztunnel.log", "istio-text.log", "cri.log")


def _sample_lines(name: str) -> list[bytes]:
    return [line for line in (FIXTURES / name).read_bytes().splitlines() if line]


def _identity(record: dict[str, object]) -> tuple[object, ...]:
    """What must survive the trip unchanged (file and line number are the transport's)."""
    return tuple(
        (key, tuple(value) if isinstance(value, list) else value)
        for key, value in sorted(record.items())
        if key not in {"file", "lineno"}
    )


async def test_raw_lines_reach_the_analyzer_as_the_records_the_parsers_make(
    broker: Broker, tmp_path: Path
) -> None:
    expected: Counter[tuple[object, ...]] = Counter()
    for name in SAMPLES:
        lines = _sample_lines(name)
        # a shipper keys by stream, so the fragments of a CRI partial line stay in order
        produce_raw(broker.bootstrap, "raw", lines, key=name.encode())
        chunk = StreamDecoder(None).feed(b"\n".join(lines) + b"\n")
        expected.update(_identity(r) for r in chunk.records.drop("ts").to_dicts())
    assert sum(expected.values()) > 30

    config = kafka_config(broker.bootstrap)
    out = tmp_path / "records.ndjson"
    sink = FileSink(str(out))
    first, kafka_sink = collector(
        config, f"kafka://{broker.bootstrap}/raw?group=collectors", f"kafka://{broker.bootstrap}/records"
    )
    second = analyzer(config, f"kafka://{broker.bootstrap}/records?group=analyzers", [sink])

    async def close() -> None:
        kafka_sink.close()
        sink.close()

    await run_until(
        [first, second],
        lambda: len(read_ndjson(out)) >= sum(expected.values()),
        60,
        "the analyzer to write every record",
        close,
    )
    got = read_ndjson(out)
    assert Counter(_identity(r) for r in got) == expected
    assert {r["file"] for r in got} <= {f"records-{p}" for p in range(4)}
    # the collector publishes with kind/format/pod headers and the partition key of serde
    published = consume_all(broker.bootstrap, "records", len(got))
    assert len(published) == len(got)
    for key, _value, headers in published:
        names = dict(headers)
        assert names["kind"] in {b"envoy", b"ztunnel"}
        assert names["format"] in {b"envoy-json", b"envoy-text", b"ztunnel-text", b"ztunnel-json"}
        assert key is not None
