"""Raw lines (written by an independent client) -> collector -> records topic -> analyzer."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock
from logwatch.kafka.topology import run_analyzer
from logwatch.pipeline.pipeline import Pipeline
from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from rules.builtin import builtin_pack
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    EPOCH,
    FIXTURES,
    LATENESS,
    collector,
    consume_all,
    envoy_line,
    kafka_config,
    produce_raw,
    read_ndjson,
    wait_for,
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
        config,
        f"kafka://{broker.bootstrap}/raw?group=collectors",
        f"kafka://{broker.bootstrap}/records",
    )
    alerts = AlertStage(AlertsConfig(), builtin_pack(), clock=ManualClock(EPOCH), outbox=None)
    stop = asyncio.Event()
    # the analyzer role as `logwatch run --source kafka://...` assembles it
    analyzing = asyncio.create_task(
        run_analyzer(
            config.model_copy(update={"signals_topic": "signals"}),
            f"kafka://{broker.bootstrap}/records?group=analyzers",
            stages=[sink],
            alerts=alerts,
            rules=builtin_pack(),
            stop=stop,
            clock=ManualClock(EPOCH),  # sample lines are from 2025: no wall-clock ticks
            allowed_lateness=LATENESS,
            analyzer_id="analyzer-1",
        )
    )
    members = [first.start()]
    try:
        await wait_for(lambda: len(read_ndjson(out)) >= sum(expected.values()), 60, "records")
        # a line two hours later moves event time on: the alert windows close
        late = envoy_line(1, EPOCH.replace(hour=6))
        produce_raw(broker.bootstrap, "raw", [late], key=b"late")
        reference = _reference_alerts(
            [[line for n in SAMPLES for line in _sample_lines(n)], [late]]
        )
        assert {"RateLimited", "CircuitBreakerOpen"} <= {rule for rule, _, _ in reference}
        await wait_for(lambda: len(_fired(alerts)) >= len(reference), 60, "the alerts")
        # alerts are decided on the signals topic, which may run ahead of the records sink:
        # the late record itself must still arrive before the analyzer stops
        await wait_for(
            lambda: len(read_ndjson(out)) > sum(expected.values()), 60, "the late record"
        )
    finally:
        stop.set()
        for member in members:
            await member.shutdown()
        await asyncio.wait_for(analyzing, 30)
        kafka_sink.close()
        sink.close()

    # every alert a single process decides, once; no other
    assert _fired(alerts) == reference
    got = read_ndjson(out)
    expected.update(
        _identity(r) for r in StreamDecoder(None).feed(late + b"\n").records.drop("ts").to_dicts()
    )
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


def _fired(stage: AlertStage) -> list[tuple[str, str, str]]:
    """Each alert that started firing: rule, labels, start (event time), in order."""
    return sorted(
        (entry["rule"], str(sorted(entry["labels"].items())), str(entry["starts_at"]))
        for entry in stage.report()
    )


def _reference_alerts(batches: list[list[bytes]]) -> list[tuple[str, str, str]]:
    """The alerts one process decides from the same lines, fed batch by batch."""
    stage = AlertStage(AlertsConfig(), builtin_pack(), clock=ManualClock(EPOCH), outbox=None)
    pipeline = Pipeline([stage], clock=ManualClock(EPOCH), allowed_lateness=LATENESS)
    for lines in batches:
        pipeline.process(StreamDecoder(None).feed(b"\n".join(lines) + b"\n"))
    return _fired(stage)
