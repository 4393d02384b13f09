"""Partitioned alerting: no duplicate alerts when several analyzers share the records topic.

Why: each analyzer sees only its partitions' records. If every analyzer ran the alert rules
on what it sees, a route whose records spread over several partitions would be alerted by
several analyzers (duplicates), each on a fraction of the evidence (wrong thresholds).

How: alerting is split in two, along the rule engine's own seam (``rules.engine``: observe
= aggregate, advance = decide):

1. every analyzer runs :class:`SignalPublisher` as a pipeline stage. Per batch it computes
   each rule's aggregate (``CompiledRule.aggregation``: matched and total counts per group
   labels and time bucket, plus one sample record) and publishes one message per (rule,
   group, bucket) to the signals topic, **keyed by rule + group labels**. At each flush it
   also publishes a watermark heartbeat (its event-time watermark) to every partition.
2. the signals topic is consumed by a second consumer group (``<group>-alerts``), usually
   inside the same analyzer processes. Each member owns some partitions, hence some
   (rule, group) keys, exclusively: its :class:`SignalsDriver` folds the aggregates into
   the alert stage's engine (``on_aggregates``) and advances it to the **minimum**
   watermark of the analyzers heard from recently, so a slow analyzer's counts are not
   late. Each alert group is therefore decided by exactly one member, on all the evidence.

Delivery: aggregates are published before the analyzer commits its record offsets (the
publisher's flush waits for acknowledgement), and the signal consumer commits only after
the alert stage flushed. A crash can replay an uncommitted window of aggregates, counted
twice within that window (at-least-once), never lost; a rebalance moves a group's owner
and with it the group's future decisions (the new owner starts from the alert state it
restores, see the alert stage).

Limits: notification grouping across rules happens per owner (two rules' alerts of one
receiver group may go out in separate notifications); ``new_value`` learning starts at the
first aggregate an owner sees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import polars as pl

from logwatch.kafka.client import Endpoint
from logwatch.kafka.decode import KafkaMessage, PoisonMessage
from logwatch.kafka.producer import Message, ProducerThread
from logwatch.kafka.serde import partition_of
from rules.compiled import SAMPLE_FIELDS, CompiledRule, compile_rule
from rules.model import AnyRule

log = logging.getLogger(__name__)

WATERMARK_HEADER = "logwatch-watermark"
ANALYZER_HEADER = "logwatch-analyzer"
_SEPARATOR = "\x1f"  # between rule name and label values in a message key


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One rule's counts for one group and time bucket (``_e`` = bucket end, µs)."""

    rule: str
    labels: tuple[str, ...]
    bucket_end_us: int
    matched: int
    total: int
    sample: dict[str, str]


class SignalPublisher:
    """Analyzer-side stage: rule aggregates -> the signals topic (see module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint,
        rules: Sequence[AnyRule],
        analyzer_id: str,
        *,
        flush_timeout_s: float = 30.0,
    ) -> None:
        self._compiled = [compile_rule(r) for r in rules if r.enabled and r.source == "records"]
        self._analyzer = analyzer_id.encode()
        self._flush_timeout_s = flush_timeout_s
        self._producer = ProducerThread(endpoint, endpoint.url.topic)
        self._watermark: datetime | None = None
        self.aggregates = 0

    def on_records(self, records: pl.DataFrame) -> None:
        if records.height == 0 or not self._compiled:
            return
        lazy = records.lazy()
        frames = pl.collect_all([c.aggregation(lazy, "records") for c in self._compiled])
        messages: list[Message] = []
        for compiled, frame in zip(self._compiled, frames, strict=True):
            messages.extend(self._messages(compiled, frame))
        self.aggregates += len(messages)
        self._producer.publish(messages)

    def _messages(self, compiled: CompiledRule, frame: pl.DataFrame) -> list[Message]:
        labels = compiled.label_names_internal()
        # rules with a separate matching selector aggregate without sample columns
        samples = [f"_s_{f}" for f in SAMPLE_FIELDS if f"_s_{f}" in frame.columns]
        fields = [f.removeprefix("_s_") for f in samples]
        out: list[Message] = []
        for row in frame.select([*labels, "_e", "_m", "_t", *samples]).iter_rows():
            group = tuple("" if v is None else str(v) for v in row[: len(labels)])
            end, matched, total = row[len(labels) : len(labels) + 3]
            sample = {
                f: str(v)
                for f, v in zip(fields, row[len(labels) + 3 :], strict=True)
                if v is not None
            }
            key = _SEPARATOR.join((compiled.name, *group)).encode()
            value = orjson.dumps(
                {
                    "rule": compiled.name,
                    "labels": group,
                    "end": int(end),
                    "matched": int(matched),
                    "total": int(total),
                    "sample": sample,
                }
            )
            partition = partition_of(key, self._producer.partitions)
            out.append((partition, key, value, [(ANALYZER_HEADER, self._analyzer)]))
        return out

    def on_watermark(self, watermark: datetime) -> None:
        self._watermark = watermark

    def flush(self) -> None:
        """Publish the watermark to every partition, then wait for acknowledgement of all
        aggregates so far; raises PublishError otherwise (the analyzer then commits nothing)."""
        if self._watermark is not None:
            stamp = str(_micros(self._watermark)).encode()
            headers = [(ANALYZER_HEADER, self._analyzer), (WATERMARK_HEADER, stamp)]
            beats: list[Message] = [
                (p, self._analyzer, b"", headers) for p in range(self._producer.partitions)
            ]
            self._producer.publish(beats)
        self._producer.drain(self._flush_timeout_s)

    def close(self) -> None:
        self._producer.close()


class AggregateStage(Protocol):
    """What owns alert decisions on the signals side: ``logwatch.alerts.stage.AlertStage``."""

    def on_aggregates(self, rule: str, aggregate: pl.DataFrame) -> None: ...
    def on_watermark(self, watermark: datetime) -> None: ...
    def flush(self) -> None: ...


@dataclass(frozen=True)
class SignalBatch:
    """Aggregates and watermark heartbeats of one partition's messages."""

    partition: int
    aggregates: tuple[Aggregate, ...]
    watermarks: dict[str, int]  # analyzer id -> watermark (µs)
    poison: tuple[PoisonMessage, ...]
    commit_offset: int


class SignalDecoder:
    """Decodes one signals-topic partition; bad messages become poison (dead letters)."""

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.name = f"{topic}-{partition}"

    def decode(self, messages: Sequence[KafkaMessage]) -> SignalBatch:
        aggregates: list[Aggregate] = []
        watermarks: dict[str, int] = {}
        poison: list[PoisonMessage] = []
        for message in messages:
            headers = dict(message.headers)
            try:
                if WATERMARK_HEADER in headers:
                    analyzer = headers.get(ANALYZER_HEADER, b"").decode()
                    stamp = int(headers[WATERMARK_HEADER])
                    watermarks[analyzer] = max(stamp, watermarks.get(analyzer, stamp))
                else:
                    aggregates.append(_aggregate(message.value))
            except (ValueError, KeyError, TypeError) as exc:
                poison.append(
                    PoisonMessage(
                        self.topic,
                        self.partition,
                        message.offset,
                        message.key,
                        message.value,
                        tuple(message.headers),
                        f"bad signal: {exc}",
                    )
                )
        return SignalBatch(
            self.partition,
            tuple(aggregates),
            watermarks,
            tuple(poison),
            messages[-1].offset + 1 if messages else 0,
        )


def _aggregate(value: bytes | None) -> Aggregate:
    if value is None:
        raise ValueError("empty value")
    document: Any = orjson.loads(value)
    if not isinstance(document, dict):
        raise TypeError("not an object")
    labels = document["labels"]
    sample = document.get("sample") or {}
    if not isinstance(labels, list) or not isinstance(sample, dict):
        raise TypeError("labels must be a list and sample an object")
    return Aggregate(
        rule=str(document["rule"]),
        labels=tuple(str(v) for v in labels),
        bucket_end_us=int(document["end"]),
        matched=int(document["matched"]),
        total=int(document["total"]),
        sample={str(k): str(v) for k, v in sample.items()},
    )


class SignalsDriver:
    """The 'pipeline' of the signals consumer: aggregates into the alert stage, then the
    watermark that is safe for every partition.

    An analyzer publishes its heartbeat to a partition after the aggregates it published
    there before, so once analyzer A's heartbeat ``w`` is read from partition p, all of
    A's aggregates for p up to ``w`` are in. The safe watermark is therefore the minimum,
    over the partitions heard from, of the minimum over the analyzers heard from on that
    partition within ``stale_after_s`` (wall time; a stopped analyzer stops holding it),
    taken only once every partition this member owns has been heard from.
    """

    def __init__(self, stage: AggregateStage, *, stale_after_s: float = 60.0) -> None:
        self._stage = stage
        self._stale_after_s = stale_after_s
        # (partition, analyzer) -> (watermark µs, monotonic time heard)
        self._heard: dict[tuple[int, str], tuple[int, float]] = {}
        self._assigned: frozenset[int] = frozenset()
        self._watermark = 0
        self.aggregates = 0

    def process(self, batch: SignalBatch) -> None:
        by_rule: dict[str, list[Aggregate]] = {}
        for aggregate in batch.aggregates:
            by_rule.setdefault(aggregate.rule, []).append(aggregate)
        for rule, aggregates in by_rule.items():
            self._stage.on_aggregates(rule, _frame(aggregates))
        self.aggregates += len(batch.aggregates)
        now = time.monotonic()
        for analyzer, stamp in batch.watermarks.items():
            key = (batch.partition, analyzer)
            previous = self._heard.get(key, (stamp, now))[0]
            self._heard[key] = (max(previous, stamp), now)
        self.tick()

    def on_assignment(self, partitions: frozenset[int]) -> None:
        """The partitions this member owns now (called by the source on every rebalance):
        the watermark waits until each of them has been heard from."""
        self._assigned = partitions
        self._heard = {k: v for k, v in self._heard.items() if k[0] in partitions}

    def tick(self) -> None:
        now = time.monotonic()
        by_partition: dict[int, int] = {}
        for (partition, _analyzer), (stamp, when) in self._heard.items():
            if now - when <= self._stale_after_s:
                by_partition[partition] = min(stamp, by_partition.get(partition, stamp))
        if not by_partition or not self._assigned <= by_partition.keys():
            return  # an owned partition not heard from yet may still hold older counts
        safe = min(by_partition.values())
        if safe > self._watermark:
            self._watermark = safe
            self._stage.on_watermark(_datetime(safe))

    def flush(self) -> None:
        self._stage.flush()


def _frame(aggregates: list[Aggregate]) -> pl.DataFrame:
    """Aggregates of one rule in the shape ``CompiledRule.aggregation`` produces."""
    width = len(aggregates[0].labels)
    columns: dict[str, list[Any]] = {
        f"_l{i}": [a.labels[i] if i < len(a.labels) else "" for a in aggregates]
        for i in range(width)
    }
    columns["_e"] = [a.bucket_end_us for a in aggregates]
    columns["_m"] = [a.matched for a in aggregates]
    columns["_t"] = [a.total for a in aggregates]
    for field in SAMPLE_FIELDS:
        columns[f"_s_{field}"] = [a.sample.get(field) for a in aggregates]
    schema: dict[str, pl.DataType] = {name: pl.String() for name in columns}
    schema.update({"_e": pl.Int64(), "_m": pl.Int64(), "_t": pl.Int64()})
    return pl.DataFrame(columns, schema=schema)


def _micros(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )
