"""Building blocks for the Kafka tests: endpoints, a second independent client, topology."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.model import Notification
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock, WallClock
from logwatch.kafka.client import Endpoint
from logwatch.kafka.config import KafkaConfig
from logwatch.kafka.consumer import DrivenPipeline, KafkaSource
from logwatch.kafka.producer import KafkaRecordSink
from logwatch.kafka.signals import SignalDecoder, SignalPublisher, SignalsDriver
from logwatch.kafka.url import parse_kafka_url
from logwatch.pipeline.pipeline import Pipeline
from logwatch.pipeline.stages import RecordStage
from logwatch.sinks.file import FileSink
from rules.builtin import builtin_pack

EPOCH = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)
# partitions are read in no particular order: a lateness covering the samples' time span
# keeps records of one partition from being late for the alert windows of another
LATENESS = timedelta(hours=1)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def kafka_config(bootstrap: str, **overrides: object) -> KafkaConfig:
    """Settings for tansu: no idempotent producer (it lacks InitProducerId), fast commits
    and a short session so a killed member's partitions move quickly."""
    values: dict[str, object] = {
        "bootstrap": bootstrap,
        "idempotent": False,
        "commit_interval_s": 0.2,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "request_timeout_ms": 5000,
        "retry_backoff_min_s": 0.1,
        "retry_backoff_max_s": 1.0,
        "create_partitions": 4,
    }
    values.update(overrides)
    return KafkaConfig.model_validate(values)


def endpoint(config: KafkaConfig, url: str) -> Endpoint:
    return Endpoint(config, parse_kafka_url(url))


def produce_raw(
    bootstrap: str,
    topic: str,
    values: Iterable[bytes],
    key: bytes | None = None,
    headers: list[tuple[str, str | bytes | None]] | None = None,
) -> int:
    """Write values with confluent-kafka (librdkafka): an independent client, as a log
    shipper would be. Returns how many were acknowledged."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "compression.type": "gzip",
            "enable.idempotence": False,
        }
    )
    delivered: list[int] = []
    errors: list[str] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is None:
            delivered.append(1)
        else:
            errors.append(str(error))

    count = 0
    for value in values:
        while True:
            try:
                producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
    remaining = producer.flush(30)
    assert remaining == 0 and not errors, (remaining, errors[:3])
    assert len(delivered) == count
    return count


def consume_all(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0
) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Read a topic from the start with confluent-kafka until ``expected`` messages."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    # assigned, not subscribed: reading needs no group coordination
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = sorted(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            pairs = message.headers() or []
            headers = [
                (str(n), v.encode() if isinstance(v, str) else (v or b""))
                for n, v in (pairs if isinstance(pairs, list) else [])
            ]
            found.append((message.key(), message.value(), headers))
    finally:
        consumer.close()
    return found


def read_ndjson(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


async def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Member:
    """One running logwatch instance: a Kafka source driving a pipeline of stages."""

    source: KafkaSource
    pipeline: DrivenPipeline
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> Member:
        self.task = asyncio.create_task(self.source.run(self.pipeline, self.stop))
        return self

    async def shutdown(self, timeout_s: float = 30.0) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout_s)


def collector(
    config: KafkaConfig, source_url: str, sink_url: str
) -> tuple[Member, KafkaRecordSink]:
    sink = KafkaRecordSink(endpoint(config, sink_url), flush_timeout_s=10.0)
    pipeline = Pipeline([sink], clock=WallClock())
    return Member(KafkaSource(endpoint(config, source_url)), pipeline), sink


def analyzer(config: KafkaConfig, source_url: str, stages: list[RecordStage]) -> Member:
    # sample lines are from 2025: an idle tick must not move event time to the wall clock,
    # or every record would arrive late for the alert windows
    pipeline = Pipeline(stages, clock=ManualClock(EPOCH), allowed_lateness=LATENESS)
    return Member(KafkaSource(endpoint(config, source_url)), pipeline)


async def run_until(
    members: list[Member],
    done: Callable[[], bool],
    timeout_s: float,
    what: str,
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> None:
    for member in members:
        if member.task is None:
            member.start()
    try:
        await wait_for(done, timeout_s, what)
    finally:
        outcomes = [await _outcome(member.shutdown()) for member in members]
        if cleanup is not None:
            await cleanup()
        for outcome in outcomes:
            if outcome is not None:
                raise outcome


async def _outcome(shutdown: Awaitable[None]) -> BaseException | None:
    try:
        await shutdown
    except Exception as exc:
        return exc
    return None


__all__ = ["FileSink"]


ENVOY_TEMPLATE = orjson.loads((FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[0])


def envoy_line(
    index: int,
    start: datetime,
    *,
    step_ms: int = 100,
    rate_limited: bool = False,
    route: str = "httproute/default/ingress-bookinfo/rule/0/match/0/*",
) -> bytes:
    """An Envoy Gateway JSON access line with its own request id and event time."""
    line = dict(ENVOY_TEMPLATE)
    line["x-request-id"] = f"00000000-0000-4000-8000-{index:012d}"
    line["start_time"] = (start + timedelta(milliseconds=index * step_ms)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )[:-3] + "Z"
    line["route_name"] = route
    line["upstream_local_address"] = f"10.244.1.70:{20000 + index % 40000}"
    if rate_limited:
        line["response_code"] = 429
        line["response_flags"] = "RL"
        line["response_code_details"] = "local_rate_limited"
    return orjson.dumps(line)


def alert_owner(
    config: KafkaConfig, signals_url: str, *, stale_after_s: float = 5.0
) -> tuple[Member, AlertStage]:
    """A signals consumer deciding alerts with the built-in rule pack, in event time."""
    stage = AlertStage(AlertsConfig(), builtin_pack(), clock=ManualClock(EPOCH), outbox=None)
    driver = SignalsDriver(stage, stale_after_s=stale_after_s)
    source = KafkaSource(endpoint(config, signals_url), reader=SignalDecoder)
    return Member(source, driver), stage


def publisher(config: KafkaConfig, signals_topic: str, analyzer_id: str) -> SignalPublisher:
    return SignalPublisher(
        endpoint(config, f"kafka:///{signals_topic}"),
        builtin_pack(),
        analyzer_id,
        flush_timeout_s=10.0,
    )


def firing(stage: AlertStage, rule: str) -> list[Notification]:
    return [
        n for n in stage.unsent if n.status == "firing" and any(a.rule == rule for a in n.alerts)
    ]
