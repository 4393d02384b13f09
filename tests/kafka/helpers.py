"""Building blocks for the Kafka tests: endpoints, a second independent client, topology."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from logwatch.clock import WallClock
from logwatch.kafka.client import Endpoint
from logwatch.kafka.config import KafkaConfig
from logwatch.kafka.consumer import KafkaSource
from logwatch.kafka.producer import KafkaRecordSink
from logwatch.kafka.url import parse_kafka_url
from logwatch.pipeline.pipeline import Pipeline
from logwatch.pipeline.stages import RecordStage
from logwatch.sinks.file import FileSink

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


def produce_raw(bootstrap: str, topic: str, values: Iterable[bytes], key: bytes | None = None,
                headers: list[tuple[str, bytes]] | None = None) -> int:
    """Write values with confluent-kafka (librdkafka): an independent client, as a log
    shipper would be. Returns how many were acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "compression.type": "gzip", "enable.idempotence": False})
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
                producer.produce(topic, value=value, key=key, headers=headers,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
    remaining = producer.flush(30)
    assert remaining == 0 and not errors, (remaining, errors[:3])
    assert len(delivered) == count
    return count


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0
                ) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    """Read a topic from the start with confluent-kafka until ``expected`` messages."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
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
            found.append((message.key(), message.value(), list(message.headers() or [])))
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
    pipeline: Pipeline
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> Member:
        self.task = asyncio.create_task(self.source.run(self.pipeline, self.stop))
        return self

    async def shutdown(self, timeout_s: float = 30.0) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout_s)

    async def kill(self) -> None:
        """Die without a checkpoint or leaving the group (a crashed pod)."""
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


def collector(config: KafkaConfig, source_url: str, sink_url: str) -> tuple[Member, KafkaRecordSink]:
    sink = KafkaRecordSink(endpoint(config, sink_url), flush_timeout_s=10.0)
    pipeline = Pipeline([sink], clock=WallClock())
    return Member(KafkaSource(endpoint(config, source_url)), pipeline), sink


def analyzer(config: KafkaConfig, source_url: str, stages: list[RecordStage]) -> Member:
    pipeline = Pipeline(stages, clock=WallClock())
    return Member(KafkaSource(endpoint(config, source_url)), pipeline)


async def run_until(members: list[Member], done: Callable[[], bool], timeout_s: float,
                    what: str, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
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
