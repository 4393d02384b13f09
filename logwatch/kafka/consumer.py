"""Consuming a topic in a consumer group and driving the pipeline (``--source kafka://...``).

Delivery is **at least once**:

* offsets are committed only by :meth:`KafkaSource.checkpoint`, which first flushes the
  pipeline (every stage's effects durable) and the dead-letter producer; if either fails
  nothing is committed, and the records are processed again after a restart or rebalance;
* on a rebalance, :class:`_Revoke` runs the same checkpoint before partitions are handed to
  another member, so the next owner starts right after what this one made durable;
* a message that is not what it claims (see :mod:`logwatch.kafka.envelopes`) goes to the
  dead-letter topic with headers naming its origin and the reason, is counted as malformed
  (reason ``kafka-poison``) and never blocks the partition.

Duplicates are limited to the uncommitted window: what was processed after the last
successful checkpoint of the member that crashed or lost its partitions.

Broker outage: fetch, commit and dead-letter errors are logged and retried with doubling
backoff; the consumer is never torn down for them. Memory stays bounded because nothing is
fetched while the pipeline has not taken the last batch (``max_poll_records`` per fetch and
aiokafka's own fetch buffer bound what is held). The source ends only when ``stop`` is set.

Resume contract: state comes only from the group's committed offsets; a committed offset
points after the last message whose effects are durable (or at the first message whose CRI
partial line a decoder still holds); ``close`` may not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from logwatch.clock import Clock, WallClock
from logwatch.daemon_stats import DaemonStats
from logwatch.kafka.client import Endpoint, connection_kwargs, ensure_topics
from logwatch.kafka.decode import PartitionDecoder, PoisonMessage
from parsers.options import ParseOptions

log = logging.getLogger(__name__)


class DrivenPipeline(Protocol):
    """What the source drives: ``logwatch.pipeline.pipeline.Pipeline`` for records (it
    takes a :class:`DecodedBatch`), ``SignalsDriver`` for alert signals."""

    def process(self, chunk: Any) -> None: ...
    def tick(self) -> None: ...
    def flush(self) -> None: ...


class PartitionBatch(Protocol):
    """What every partition reader returns besides its payload."""

    @property
    def poison(self) -> tuple[PoisonMessage, ...]: ...
    @property
    def commit_offset(self) -> int: ...


class PartitionReader(Protocol):
    """Decodes the messages of one assigned partition, keeping state between fetches."""

    @property
    def name(self) -> str: ...
    def decode(self, messages: Sequence[Any]) -> PartitionBatch: ...


def record_reader(options: ParseOptions) -> Callable[[str, int], PartitionReader]:
    """Readers for record topics: raw lines, shipper envelopes, logwatch records."""
    return lambda topic, partition: PartitionDecoder(topic, partition, options)


class CheckpointError(RuntimeError):
    """The pipeline or the dead-letter topic could not be made durable; nothing committed."""


class KafkaSource:
    """A consumer-group member feeding one pipeline. See the module docstring."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        stats: DaemonStats | None = None,
        parse_options: ParseOptions | None = None,
        clock: Clock | None = None,
        reader: Callable[[str, int], PartitionReader] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._config = endpoint.config
        self.topic = endpoint.url.topic
        self.group = endpoint.url.group
        self.dead_letter_topic = endpoint.url.dead_letter or self._config.dead_letter_topic
        self._stats = stats if stats is not None else DaemonStats()
        self._reader = reader or record_reader(parse_options or ParseOptions())
        self._clock = clock or WallClock()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self._decoders: dict[int, PartitionReader] = {}
        self._positions: dict[TopicPartition, int] = {}  # processed, not yet committed
        self._poison: list[PoisonMessage] = []
        self._pipeline: DrivenPipeline | None = None
        self._lock = asyncio.Lock()
        self._last_checkpoint = 0.0
        self._last_rewind_check = 0.0
        self.dead_lettered = 0
        self.commits = 0
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Connect and join the group; retries with backoff until connected (True) or
        ``stop`` is set (False)."""
        backoff = self._config.retry_backoff_min_s
        while stop is None or not stop.is_set():
            try:
                await self._connect()
                return True
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "Kafka %s not reachable (%s); retrying in %.1fs",
                    self._endpoint.bootstrap,
                    exc,
                    backoff,
                )
                await self._close_clients()
                if stop is None:
                    await asyncio.sleep(backoff)
                else:
                    await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self._config.retry_backoff_max_s)
        return False

    async def _connect(self) -> None:
        config = self._config
        timeout = config.request_timeout_ms / 1000
        await ensure_topics(self._endpoint, [self.topic, self.dead_letter_topic], timeout)
        kwargs = connection_kwargs(self._endpoint)
        self._dlq = AIOKafkaProducer(**kwargs, acks="all", enable_idempotence=config.idempotent)
        await asyncio.wait_for(self._dlq.start(), timeout)
        self._consumer = AIOKafkaConsumer(
            **kwargs,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset=self._endpoint.url.offset_reset,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=64 << 20,
        )
        self._consumer.subscribe([self.topic], listener=_Revoke(self))
        await asyncio.wait_for(self._consumer.start(), timeout)

    async def close(self) -> None:
        """Leave the group and disconnect (idempotent). Does not checkpoint: call
        :meth:`checkpoint` first on an orderly stop."""
        if self._closed:
            return
        self._closed = True
        await self._close_clients()

    async def _close_clients(self) -> None:
        consumer, self._consumer = self._consumer, None
        dlq, self._dlq = self._dlq, None
        if consumer is not None:
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await asyncio.wait_for(consumer.stop(), 10.0)
        if dlq is not None:
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                await asyncio.wait_for(dlq.stop(), 10.0)

    # --- the loop ---------------------------------------------------------------------

    async def run(self, pipeline: DrivenPipeline, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then checkpoint and leave the group."""
        self._pipeline = pipeline
        if not await self.start(stop):
            await self.close()
            return
        consumer = self._consumer
        assert consumer is not None
        backoff = self._config.retry_backoff_min_s
        interval = self._config.commit_interval_s
        try:
            while not stop.is_set():
                try:
                    fetched = await consumer.getmany(
                        timeout_ms=200, max_records=self._config.max_poll_records
                    )
                except KafkaError as exc:
                    log.warning("Kafka fetch failed (%s); retrying in %.1fs", exc, backoff)
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, self._config.retry_backoff_max_s)
                    continue
                backoff = self._config.retry_backoff_min_s
                if fetched:
                    self._process(fetched)
                else:
                    pipeline.tick()
                    await self._rewind_truncated()
                if self._clock.monotonic() - self._last_checkpoint >= interval:
                    await self._checkpoint_logged()
            await self._checkpoint_logged()
        finally:
            await self.close()

    def _process(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        pipeline = self._pipeline
        assert pipeline is not None
        for tp, messages in fetched.items():
            decoder = self._decoders.get(tp.partition)
            if decoder is None:
                decoder = self._reader(tp.topic, tp.partition)
                self._decoders[tp.partition] = decoder
            batch = decoder.decode(messages)
            pipeline.process(batch)
            self._poison.extend(batch.poison)
            self._positions[tp] = batch.commit_offset
            self._stats.bytes += sum(len(m.value or b"") for m in messages)
            consumer = self._consumer
            high = consumer.highwater(tp) if consumer is not None else None
            if high is not None:
                # for Kafka sources this is messages not yet read, not bytes
                self._stats.lag_bytes[decoder.name] = max(0, high - messages[-1].offset - 1)

    async def _rewind_truncated(self) -> None:
        """A partition whose log now ends before our position was truncated or recreated
        (a broker that lost its data, an unclean leader election). Kafka answers such a
        fetch with OffsetOutOfRange and the client resets; some Kafka-protocol brokers
        just return nothing, which would stall the partition forever. Reset it per
        ``offset_reset`` ourselves, once we have been idle at least a commit interval."""
        consumer = self._consumer
        now = self._clock.monotonic()
        if consumer is None or now - self._last_rewind_check < self._config.commit_interval_s:
            return
        self._last_rewind_check = now
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            try:
                position = await asyncio.wait_for(consumer.position(tp), 5.0)
            except (KafkaError, TimeoutError, AssertionError):
                continue  # not fetchable right now (rebalancing, offline)
            if high is not None and position > high:
                log.warning(
                    "%s-%d ends at %d, before position %d: the log was truncated; resetting to %s",
                    tp.topic,
                    tp.partition,
                    high,
                    position,
                    self._endpoint.url.offset_reset,
                )
                self._decoders.pop(tp.partition, None)
                self._positions.pop(tp, None)
                if self._endpoint.url.offset_reset == "earliest":
                    await consumer.seek_to_beginning(tp)
                else:
                    await consumer.seek_to_end(tp)

    # --- checkpoint -------------------------------------------------------------------

    async def checkpoint(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Flush the pipeline, publish dead letters, then commit processed offsets.

        ``partitions`` limits the commit (a revoke); the flush is always whole. Raises
        CheckpointError when the flush or the dead letters fail (nothing is committed), and
        KafkaError when the commit itself fails (the records will be processed again).
        """
        async with self._lock:
            self._last_checkpoint = self._clock.monotonic()
            pipeline = self._pipeline
            try:
                if pipeline is not None:
                    # synchronous by contract; a Kafka sink stage blocks on its own thread
                    pipeline.flush()
            except Exception as exc:
                raise CheckpointError(f"pipeline flush failed: {exc}") from exc
            await self._publish_dead_letters()
            wanted = set(partitions) if partitions is not None else set(self._positions)
            offsets = {
                tp: OffsetAndMetadata(self._positions[tp], "")
                for tp in wanted
                if tp in self._positions
            }
            if not offsets or self._consumer is None:
                return
            await self._consumer.commit(offsets)
            for tp in offsets:
                del self._positions[tp]
            self.commits += 1
            self._stats.checkpoint_unix = self._clock.now().timestamp()

    async def _checkpoint_logged(self) -> None:
        try:
            await self.checkpoint()
        except (CheckpointError, KafkaError) as exc:
            log.warning("checkpoint failed, offsets not committed: %s", exc)

    async def _publish_dead_letters(self) -> None:
        if not self._poison:
            return
        dlq = self._dlq
        if dlq is None:
            raise CheckpointError("dead-letter producer is not connected")
        timeout = self._config.request_timeout_ms / 1000
        try:
            deliveries = [
                await dlq.send(
                    self.dead_letter_topic,
                    value=p.value,
                    key=p.key,
                    headers=[
                        *p.headers,
                        ("logwatch-source", f"{p.topic}/{p.partition}/{p.offset}".encode()),
                        ("logwatch-reason", p.reason.encode()),
                    ],
                )
                for p in self._poison
            ]
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout)
        except (KafkaError, TimeoutError) as exc:
            raise CheckpointError(f"dead-letter topic {self.dead_letter_topic}: {exc}") from exc
        self.dead_lettered += len(self._poison)
        log.warning("sent %d poison messages to %s", len(self._poison), self.dead_letter_topic)
        self._poison.clear()

    def _assigned(self, partitions: Sequence[TopicPartition]) -> None:
        # a pipeline that cares which partitions it owns (the signals driver) is told
        on_assignment = getattr(self._pipeline, "on_assignment", None)
        if callable(on_assignment):
            on_assignment(frozenset(tp.partition for tp in partitions))

    def _forget(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._decoders.pop(tp.partition, None)
            self._positions.pop(tp, None)
            self._stats.lag_bytes.pop(f"{tp.topic}-{tp.partition}", None)


class _Revoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Checkpoint before partitions move to another member, so it resumes where this one's
    durable effects end. If that checkpoint fails, the new owner re-reads the uncommitted
    window (duplicates, never loss)."""

    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            try:
                await self._source.checkpoint(revoked)
            except (CheckpointError, KafkaError) as exc:
                log.warning("checkpoint on revoke failed, partitions will be re-read: %s", exc)
            self._source._forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %s", ", ".join(f"{tp.topic}-{tp.partition}" for tp in assigned))
        self._source._assigned(assigned)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
