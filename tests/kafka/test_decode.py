"""PartitionDecoder: a batch of plain lines is decoded in one piece, exactly as message by
message; anything else in the batch (envelopes, blank or multi-line messages, invalid UTF-8,
headers) takes the per-message path."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.kafka.decode import DecodedBatch, PartitionDecoder
from tests.kafka.helpers import FIXTURES

PLAIN = [
    line
    for name in ("envoy-gateway.jsonl", "ztunnel.log", "istio-text.log", "cri.log")
    for line in (FIXTURES / name).read_bytes().splitlines()
    if line.strip()
]
# a Fluent Bit envelope, blank messages, two lines in one message, invalid UTF-8
ODD = [
    orjson.dumps({"log": PLAIN[-1].decode(), "stream": "stdout"}),
    b"   ",
    b"",
    PLAIN[0] + b"\n" + PLAIN[1],
    b"\xff\xfe not UTF-8",
]


@dataclass(frozen=True)
class Message:
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def _decode(values: list[bytes], batch_sizes: list[int]) -> list[DecodedBatch]:
    decoder = PartitionDecoder("raw", 0)
    messages = [Message(offset, value) for offset, value in enumerate(values)]
    out, start = [], 0
    for size in [*batch_sizes, len(messages)]:
        if start >= len(messages):
            break
        out.append(decoder.decode(messages[start : start + max(1, size)]))
        start += max(1, size)
    return out


def _summary(batches: list[DecodedBatch]) -> tuple[object, ...]:
    records = pl.concat([b.records for b in batches])
    return (
        records.to_dicts(),
        sum(b.lines for b in batches),
        sum(b.ignored for b in batches),
        # order within a batch is not part of the contract
        sorted((r.lineno, r.reason, r.detail) for b in batches for r in b.rejections),
        [(p.offset, p.reason) for b in batches for p in b.poison],
        batches[-1].commit_offset,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(PLAIN), st.sampled_from(ODD)), min_size=1, max_size=40),
    st.lists(st.integers(1, 12), max_size=10),
)
def test_any_batching_decodes_like_one_message_at_a_time(
    values: list[bytes], sizes: list[int]
) -> None:
    assert _summary(_decode(values, sizes)) == _summary(_decode(values, [1] * len(values)))


def test_plain_batch_is_parsed_whole_and_commits_behind_a_held_partial_line() -> None:
    cri = [line for line in (FIXTURES / "cri.log").read_bytes().splitlines() if line]
    partial = next(i for i, line in enumerate(cri) if b" stdout P " in line)
    values = [*PLAIN[:5], cri[partial]]
    [batch] = _decode(values, [len(values)])
    assert batch.records.height == 5 and not batch.poison
    # the P fragment waits for its F: a restart must read its message again
    assert batch.commit_offset == len(values) - 1


def test_odd_messages_fall_back_to_the_per_message_path() -> None:
    values = [PLAIN[0], ODD[0], PLAIN[1], ODD[4]]
    [batch] = _decode(values, [len(values)])
    assert batch.records.height == 3  # two lines plus the envelope's line
    assert [(p.offset, p.reason) for p in batch.poison] == [(3, "not UTF-8 at byte 0")]
