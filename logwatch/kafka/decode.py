"""One partition's messages -> a parsed batch for the pipeline, and the offset safe to commit.

Each message value is classified (:mod:`logwatch.kafka.envelopes`); a batch that is only
plain log lines (a raw topic's usual batch) is fed to the parsers in one piece instead, which
gives the same records without a look at each message. Logwatch records are
read in one vectorised pass (:mod:`logwatch.kafka.serde`); log lines go through the parsers'
``StreamDecoder``, one decoder per partition and Kubernetes origin, so CRI partial lines
are reassembled per container stream and the pod/namespace/container an envelope carries
end up in the record columns (and in the role the parsers derive from pod names).

Guarantees:

* every message is accounted for once: as records, as ``ignored`` lines, as malformed
  lines (reported by the parsers) or as poison (returned for the dead-letter topic and
  reported as a rejection with reason ``kafka-poison``);
* ``commit_offset`` never passes a message whose line is still held by a decoder as part of
  an unfinished CRI partial sequence: after a restart that message is read again;
* records keep the order of their messages within each origin; ``file`` is
  ``TOPIC-PARTITION`` and ``lineno`` counts lines of that partition since it was assigned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from operator import attrgetter
from typing import Protocol

import polars as pl

from logwatch.kafka.envelopes import (
    ENVELOPE_MARKERS,
    NO_META,
    Empty,
    KubeMeta,
    Poison,
    RawLines,
    RecordJson,
    classify,
)
from logwatch.kafka.serde import decode_records
from parsers.options import ParseOptions
from parsers.outcome import Rejection
from parsers.record import RECORD_SCHEMA
from parsers.stream import ParsedChunk, StreamDecoder

POISON_REASON = "kafka-poison"
# Decoders without pending partial lines are dropped beyond this many origins per partition.
_MAX_IDLE_ORIGINS = 256
# A batch with an envelope's key or a blank line is decoded message by message. Two plain
# searches: Python's regex engine is several times slower on one alternation of both.
_ENVELOPE_KEY = re.compile(
    b'"(?:' + b"|".join(re.escape(marker.strip(b'"')) for marker in ENVELOPE_MARKERS) + b')"'
)
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
_VALUE, _OFFSET, _HEADERS = attrgetter("value"), attrgetter("offset"), attrgetter("headers")


class KafkaMessage(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` this module reads."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class PoisonMessage:
    """A message for the dead-letter topic, with where it came from and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    reason: str


@dataclass(frozen=True)
class DecodedBatch:
    """A ``ParsedBatch`` for the pipeline plus what the Kafka source needs."""

    records: pl.DataFrame
    lines: int
    ignored: int
    rejections: tuple[Rejection, ...]
    poison: tuple[PoisonMessage, ...]
    commit_offset: int  # the next offset to read after a restart


@dataclass
class _Origin:
    """One StreamDecoder and the messages it holds bytes of (for the commit offset)."""

    decoder: StreamDecoder
    position: int = 0  # bytes fed so far
    fed: list[tuple[int, int]] = field(default_factory=list)  # (offset, end position)

    def held_offset(self) -> int | None:
        """Offset of the oldest message with bytes still pending in the decoder."""
        pending = self.decoder.pending_bytes
        if pending == 0:
            self.fed.clear()
            return None
        start = self.position - pending
        for offset, end in self.fed:
            if end > start:
                return offset
        return None


class PartitionDecoder:
    """Decoder of one topic partition (see module docstring); lives while it is assigned."""

    def __init__(self, topic: str, partition: int, options: ParseOptions | None = None) -> None:
        self.topic = topic
        self.partition = partition
        self.name = f"{topic}-{partition}"
        self._options = options or ParseOptions()
        self._origins: dict[KubeMeta, _Origin] = {}

    def decode(self, messages: Sequence[KafkaMessage]) -> DecodedBatch:
        """Decode messages (consecutive, in offset order) of this partition."""
        plain = _plain_lines(messages)
        if plain is not None:
            chunk = self._feed_plain(messages, plain)
            return DecodedBatch(
                records=chunk.records,
                lines=chunk.lines,
                ignored=chunk.ignored,
                rejections=chunk.rejections,
                poison=(),
                commit_offset=self._commit_offset(messages[-1].offset + 1),
            )
        record_values: list[bytes] = []
        record_messages: list[KafkaMessage] = []
        lines_by_origin: dict[KubeMeta, list[tuple[int, tuple[bytes, ...]]]] = {}
        poison: list[PoisonMessage] = []
        ignored = 0
        for message in messages:
            decoded = classify(message.value, message.headers)
            if isinstance(decoded, RecordJson):
                record_values.append(decoded.value)
                record_messages.append(message)
            elif isinstance(decoded, RawLines):
                for group in decoded.groups:
                    lines_by_origin.setdefault(group.meta, []).append((message.offset, group.lines))
            elif isinstance(decoded, Poison):
                poison.append(self._poison(message, decoded.reason))
            elif isinstance(decoded, Empty):
                ignored += 1
        frames: list[pl.DataFrame] = []
        rejections: list[Rejection] = []
        lines = ignored + len(poison)
        if record_values:
            frame, bad = decode_records(record_values)
            frames.append(frame.with_columns(pl.lit(self.name).alias("file")))
            lines += len(record_values)
            for rejection in bad:
                poison.append(self._poison(record_messages[rejection.index], rejection.reason))
        for meta, batches in lines_by_origin.items():
            chunk = self._feed(meta, batches)
            frames.append(chunk.records)
            lines += chunk.lines
            ignored += chunk.ignored
            rejections.extend(chunk.rejections)
        rejections.extend(
            Rejection(self.name, p.offset + 1, POISON_REASON, p.reason) for p in poison
        )
        records = pl.concat(frames) if frames else pl.DataFrame(schema=RECORD_SCHEMA)
        return DecodedBatch(
            records=records,
            lines=lines,
            ignored=ignored,
            rejections=tuple(rejections),
            poison=tuple(poison),
            commit_offset=self._commit_offset(messages[-1].offset + 1 if messages else 0),
        )

    def _feed(self, meta: KubeMeta, batches: list[tuple[int, tuple[bytes, ...]]]) -> ParsedChunk:
        origin = self._origin(meta)
        parts: list[bytes] = []
        for offset, lines in batches:
            for line in lines:
                parts.append(line)
                origin.position += len(line) + 1
            origin.fed.append((offset, origin.position))
        data = b"\n".join(parts) + b"\n" if parts else b""
        # the synthetic path only carried the pod coordinates into the parsers
        return _with_file(origin.decoder.feed(data), self.name)

    def _feed_plain(self, messages: Sequence[KafkaMessage], data: bytes) -> ParsedChunk:
        """``_feed`` for a batch ``_plain_lines`` vouched for, without splitting it again."""
        origin = self._origin(NO_META)
        start = origin.position
        # map/accumulate rather than a Python loop: a batch holds tens of thousands of messages
        lengths = map((1).__add__, map(len, map(_VALUE, messages)))  # each line and its "\n"
        ends = accumulate(lengths, initial=start)
        next(ends)
        origin.fed.extend(zip(map(_OFFSET, messages), ends, strict=True))
        origin.position = start + len(data)
        return _with_file(origin.decoder.feed(data), self.name)

    def _origin(self, meta: KubeMeta) -> _Origin:
        origin = self._origins.get(meta)
        if origin is None:
            origin = _Origin(StreamDecoder(_synthetic_path(meta), self._options))
            self._origins[meta] = origin
        return origin

    def _commit_offset(self, after_last: int) -> int:
        held = [
            o for o in (origin.held_offset() for origin in self._origins.values()) if o is not None
        ]
        if len(self._origins) > _MAX_IDLE_ORIGINS:
            idle = [m for m, o in self._origins.items() if o.decoder.pending_bytes == 0]
            for meta in idle:
                del self._origins[meta]
        return min([after_last, *held])

    def _poison(self, message: KafkaMessage, reason: str) -> PoisonMessage:
        return PoisonMessage(
            topic=self.topic,
            partition=self.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=tuple(message.headers),
            reason=reason,
        )


def _plain_lines(messages: Sequence[KafkaMessage]) -> bytes | None:
    """The batch as parser input when every message is one non-blank UTF-8 log line with no
    envelope and no record headers (what ``classify`` would find one message at a time, for
    the usual raw-lines topic); ``None`` when any message may be something else."""
    values = list(map(_VALUE, messages))
    if not values or None in values or any(map(_HEADERS, messages)):
        return None
    data = b"\n".join(values) + b"\n"
    if data.count(b"\n") != len(messages) or _BLANK_LINE.search(b"\n" + data):
        return None
    if _ENVELOPE_KEY.search(data):
        return None
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return data


def _synthetic_path(meta: KubeMeta) -> str | None:
    """A kubelet-style path carrying the envelope's coordinates, so the parsers fill pod,
    namespace, container and role exactly as for a tailed file."""
    if meta.pod is None or meta.namespace is None:
        return None
    return f"/var/log/pods/{meta.namespace}_{meta.pod}_kafka/{meta.container or 'unknown'}/0.log"


def _with_file(chunk: ParsedChunk, name: str) -> ParsedChunk:
    return ParsedChunk(
        records=chunk.records.with_columns(pl.lit(name).alias("file")),
        lines=chunk.lines,
        ignored=chunk.ignored,
        rejections=tuple(Rejection(name, r.lineno, r.reason, r.detail) for r in chunk.rejections),
    )
