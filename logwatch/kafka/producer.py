"""Publishing records to Kafka (collector mode: ``--sink kafka://BOOTSTRAP/TOPIC``).

:class:`KafkaRecordSink` is a pipeline stage. ``on_records`` encodes the batch (see
:mod:`logwatch.kafka.serde`: one message per record, keyed so a request's hops meet in one
partition, headers ``kind``/``format``/``pod``) and hands it to an aiokafka producer;
``flush`` returns only when every message handed over so far is acknowledged by the
brokers (``acks=all``), so a checkpoint taken after it never points past unpublished
records.

Why a thread: stages are synchronous (``flush`` returns when effects are durable) while
aiokafka is asyncio. The producer therefore lives on its own event loop in one thread;
the stage talks to it through thread-safe futures. This keeps the stage usable from any
driver (daemon, replay, the Kafka analyzer) without blocking their loop on network I/O
except inside ``flush``.

Deliveries are counted as the brokers acknowledge them, so a publish waiting for space goes
on without a flush. Failure modes: a broker outage does not lose records. Sends that fail
are kept and sent again (with backoff) on the next flush, or while a publish waits; ``flush`` raises :class:`PublishError` if some are
still unacknowledged after ``flush_timeout_s`` (the caller then does not checkpoint), and a
later flush retries them. Memory is bounded: ``on_records`` blocks while more than
``max_pending_messages`` are unacknowledged, which holds the reader back (backpressure).
Retried messages may be published twice (at least once); consumers tolerate duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import polars as pl
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from logwatch.kafka.client import Endpoint, connection_kwargs, ensure_topics
from logwatch.kafka.serde import EncodedRecords, HeaderList, encode_records

log = logging.getLogger(__name__)

T = TypeVar("T")


class PublishError(RuntimeError):
    """Records could not be acknowledged in time; nothing after them may be committed."""


# (partition, key, value, headers): plain tuples, since a collector makes one per record
Message = tuple[int, bytes, bytes, HeaderList]


class ProducerThread:
    """An aiokafka producer on a private event loop, driven from synchronous code.

    ``publish`` queues messages and returns at once; ``drain`` waits until all queued
    messages are acknowledged or the timeout passes, re-sending failures. ``close`` is
    idempotent and stops the thread.
    """

    def __init__(self, endpoint: Endpoint, topic: str, *, start_timeout_s: float = 30.0) -> None:
        self._endpoint = endpoint
        self._topic = topic
        config = endpoint.config
        self._backoff_min = config.retry_backoff_min_s
        self._backoff_max = config.retry_backoff_max_s
        self._max_pending = config.max_pending_messages
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kafka-producer")
        self._thread.daemon = True
        self._thread.start()
        self._producer: AIOKafkaProducer | None = None
        self._in_flight: list[tuple[asyncio.Future[Any], list[Message]]] = []
        self._outgoing: asyncio.Queue[list[Message]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._failed: list[Message] = []
        self._pending = 0  # messages queued and not yet acknowledged (read on the loop)
        self._space = threading.Condition()
        self.partitions = 0
        self.published = 0
        self._closed = False
        self._call(self._start(), start_timeout_s)

    # --- synchronous API -------------------------------------------------------------

    def publish(self, messages: list[Message]) -> None:
        """Queue ``messages``; blocks while too many are unacknowledged (backpressure)."""
        if not messages:
            return
        with self._space:
            waited = 0.0
            while self._pending + len(messages) > self._max_pending and self._pending > 0:
                if not self._space.wait(timeout=1.0):
                    # failures are retried by a drain, and none comes while this waits
                    self._loop.call_soon_threadsafe(self._retry_failed)
                    waited += 1.0
                    if waited % 30 == 0:
                        log.warning(
                            "publishing is blocked: %d records unacknowledged", self._pending
                        )
            self._pending += len(messages)
        # handed to the sender task in order; parsing the next batch overlaps the sending
        self._loop.call_soon_threadsafe(self._outgoing.put_nowait, messages)

    def drain(self, timeout_s: float) -> None:
        """Wait until everything queued is acknowledged; raises PublishError on timeout."""
        self._call(self._drain(timeout_s), timeout_s + 5.0)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the producer (unacknowledged messages are dropped: they were not committed)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._stop(), timeout_s)
        except Exception as exc:  # closing must not fail the shutdown
            log.warning("closing the Kafka producer: %s", exc)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            if not self._thread.is_alive():
                self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s)

    # --- on the producer loop ---------------------------------------------------------

    async def _start(self) -> None:
        config = self._endpoint.config
        url = self._endpoint.url
        await ensure_topics(self._endpoint, [self._topic])
        idempotent = config.idempotent if url.idempotent is None else url.idempotent
        compression = url.compression or config.compression
        self._producer = AIOKafkaProducer(
            **connection_kwargs(self._endpoint),
            acks="all",
            enable_idempotence=idempotent,
            compression_type=None if compression == "none" else compression,
            linger_ms=config.linger_ms,
            max_batch_size=config.max_batch_bytes,
            max_request_size=max(config.max_batch_bytes, 1 << 20),
        )
        try:
            await asyncio.wait_for(self._producer.start(), config.request_timeout_ms / 1000)
            partitions = await self._producer.partitions_for(self._topic)
        except BaseException:
            await self._producer.stop()
            raise
        self.partitions = len(partitions)
        self._sender = asyncio.create_task(self._send_in_order())
        if not self.partitions:
            raise KafkaError(f"topic {self._topic} has no partitions")

    async def _send(self, messages: list[Message]) -> None:
        producer = self._producer
        assert producer is not None
        by_partition: dict[int, list[Message]] = {}
        for message in messages:
            by_partition.setdefault(message[0], []).append(message)
        for partition, group in by_partition.items():
            batch = producer.create_batch()
            members: list[Message] = []
            for message in group:
                _, key, value, headers = message
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    # the batch is full: send it and start the next one with this message
                    await self._send_batch(batch, partition, members)
                    batch, members = producer.create_batch(), []
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
                members.append(message)
            if members:
                await self._send_batch(batch, partition, members)

    async def _send_batch(self, batch: Any, partition: int, members: list[Message]) -> None:
        assert self._producer is not None
        try:
            delivery = await self._producer.send_batch(batch, self._topic, partition=partition)
        except KafkaError as exc:
            log.warning("queueing %d records failed, will retry: %s", len(members), exc)
            self._failed.extend(members)
            return
        # settled as soon as the brokers answer: publish() may be waiting for the space
        delivery.add_done_callback(partial(self._settled, members))
        self._in_flight.append((delivery, members))

    def _settled(self, members: list[Message], delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled():
            return  # the producer is stopping: nothing after these is committed
        exc = delivery.exception()
        if exc is None:
            self._acknowledged(len(members))
        else:
            log.warning("delivery of %d records failed, will retry: %s", len(members), exc)
            self._failed.extend(members)

    def _retry_failed(self) -> None:
        """Queue failed messages again (a blocked publish asks for it: no drain may come)."""
        if self._failed:
            retry, self._failed = self._failed, []
            self._outgoing.put_nowait(retry)

    async def _send_in_order(self) -> None:
        """The one task that hands queued messages to aiokafka, in the order published."""
        while True:
            messages = await self._outgoing.get()
            try:
                await self._send(messages)
            except Exception as exc:  # keep them for the next drain's retry
                log.warning("sending %d records failed, will retry: %s", len(messages), exc)
                self._failed.extend(messages)
            finally:
                self._outgoing.task_done()

    async def _drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        try:
            await asyncio.wait_for(self._outgoing.join(), timeout_s)
        except TimeoutError:
            raise PublishError(
                f"records to {self._topic} still queued after {timeout_s}s"
            ) from None
        backoff = self._backoff_min
        while True:
            in_flight, self._in_flight = self._in_flight, []
            for delivery, members in in_flight:
                if delivery.done():
                    continue  # _settled counted it, or kept its messages for the retry below
                try:
                    await asyncio.wait_for(
                        asyncio.shield(delivery), max(0.0, deadline - time.monotonic())
                    )
                except TimeoutError:
                    self._in_flight.append((delivery, members))
                except KafkaError:
                    pass  # _settled keeps the messages for the retry below
            # let the callbacks of deliveries that just finished run (_settled) before judging
            await asyncio.sleep(0)
            if not self._failed and not self._in_flight:
                return
            if time.monotonic() >= deadline:
                unacked = len(self._failed) + sum(len(m) for _, m in self._in_flight)
                raise PublishError(f"{unacked} records to {self._topic} not acknowledged in time")
            if self._failed:
                await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2, self._backoff_max)
                retry, self._failed = self._failed, []
                await self._send(retry)

    def _acknowledged(self, count: int) -> None:
        self.published += count
        with self._space:
            self._pending -= count
            self._space.notify_all()

    async def _stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._producer is not None:
            await self._producer.stop()


class KafkaRecordSink:
    """The collector's sink stage: records -> the records topic (see module docstring)."""

    def __init__(self, endpoint: Endpoint, *, flush_timeout_s: float = 30.0) -> None:
        self.topic = endpoint.url.topic
        self._flush_timeout_s = flush_timeout_s
        self._producer = ProducerThread(endpoint, self.topic)

    @property
    def published(self) -> int:
        """Records acknowledged by the brokers so far."""
        return self._producer.published

    def on_records(self, records: pl.DataFrame) -> None:
        encoded = encode_records(records, self._producer.partitions)
        self._producer.publish(_messages(encoded))

    def on_watermark(self, watermark: datetime) -> None:
        """Records are published as they come; event time does not matter here."""

    def flush(self) -> None:
        """Return when every record so far is acknowledged; raises PublishError otherwise."""
        self._producer.drain(self._flush_timeout_s)

    def close(self) -> None:
        """Stop the producer (idempotent). Call flush first to keep what was published."""
        self._producer.close()


def _messages(encoded: EncodedRecords) -> list[Message]:
    assert encoded.partitions is not None
    return list(zip(encoded.partitions, encoded.keys, encoded.values, encoded.headers, strict=True))
