"""Streaming: chunking does not matter, rotation keeps partials, pending bytes, batch == per-line."""

from __future__ import annotations

import itertools
import random

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import RECORD_SCHEMA, Record, StreamDecoder, frame_records, parse_line
from tests.parsers.golden import FIXTURES, SAMPLES

MIXED = b"".join(p.read_bytes() for p in SAMPLES if p.name != "real-lines.txt")


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[pl.DataFrame, list[tuple[int, str]], int]:
    decoder = StreamDecoder("mixed.log")
    lines = data.splitlines(keepends=True)
    bounds = sorted({min(c, len(lines)) for c in cuts} | {0, len(lines)})
    frames, rejections, ignored = [], [], 0
    for start, end in itertools.pairwise(bounds):
        chunk = decoder.feed(b"".join(lines[start:end]))
        frames.append(chunk.records)
        rejections += [(r.lineno, r.reason) for r in chunk.rejections]
        ignored += chunk.ignored
    end_chunk = decoder.finish()
    rejections += [(r.lineno, r.reason) for r in end_chunk.rejections]
    return pl.concat([*frames, end_chunk.records]), rejections, ignored


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=120), max_size=12))
def test_any_split_at_line_boundaries_gives_the_same_records(cuts: list[int]) -> None:
    whole, whole_rejections, whole_ignored = feed_in_pieces(MIXED, [])
    split, split_rejections, split_ignored = feed_in_pieces(MIXED, cuts)
    assert split.schema == pl.Schema(RECORD_SCHEMA)
    assert split.equals(whole)
    assert split_rejections == whole_rejections and split_ignored == whole_ignored


def test_batch_path_and_per_line_path_agree_on_every_fixture_line() -> None:
    for sample in SAMPLES:
        decoder = StreamDecoder(sample.name)
        batch = {r.lineno: r for r in frame_records(decoder.feed(sample.read_bytes()).records)}
        for lineno, raw in enumerate(sample.read_bytes().splitlines(), start=1):
            if lineno in batch and not _is_fragment(raw):
                single = parse_line(raw, file=sample.name, lineno=lineno)
                assert single == batch[lineno], (sample.name, lineno)


def _is_fragment(raw: bytes) -> bool:
    return b" stdout P " in raw[:45] or raw.startswith(b'{"log":')


def test_fast_path_agrees_with_per_line_path_on_generated_lines() -> None:
    from bench.parse import generate

    data, _ = generate(3000, seed=11)
    decoder = StreamDecoder("/var/log/pods/default_envoy-default-gw-abc_0a1b/envoy/0.log")
    records = frame_records(decoder.feed(data).records)
    assert len(records) == 3000
    lines = data.splitlines()
    for record in random.Random(3).sample(records, 300):
        single = parse_line(lines[record.lineno - 1], file=decoder_file(), lineno=record.lineno)
        assert single == record


def decoder_file() -> str:
    return "/var/log/pods/default_envoy-default-gw-abc_0a1b/envoy/0.log"


def test_partial_sequence_straddles_rotation_and_pending_bytes() -> None:
    lines = (FIXTURES / "cri-expected-reassembled-line.json").read_bytes().rstrip(b"\n")
    first = b"2025-07-18T03:33:24.031266702Z stdout P " + lines[:300] + b"\n"
    second = b"2025-07-18T03:33:24.031339120Z stdout F " + lines[300:] + b"\n"
    decoder = StreamDecoder("/var/log/pods/ns_pod_uid/envoy/0.log.20250718-033320")
    chunk = decoder.feed(
        b"2025-07-18T03:33:24.0Z stderr F [2025-07-18 03:33:24.031][27][info][x] y\n" + first
    )
    assert chunk.records.height == 0 and chunk.ignored == 1
    assert decoder.pending_bytes == len(first)
    decoder.start_file("/var/log/pods/ns_pod_uid/envoy/0.log")
    assert decoder.pending_bytes == 0 and decoder.lineno == 1
    chunk = decoder.feed(second)
    (record,) = frame_records(chunk.records)
    assert isinstance(record, Record)
    assert (record.file, record.lineno) == (
        "/var/log/pods/ns_pod_uid/envoy/0.log.20250718-033320",
        2,
    )
    assert record.request_id == "0c7a3d1e-2d55-4a39-b0a5-4b7fd2f6a0c9"
    assert decoder.pending_bytes == 0 and decoder.finish().rejections == ()


def test_first_lineno_and_empty_feed() -> None:
    decoder = StreamDecoder(None, first_lineno=41)
    assert decoder.feed(b"").lines == 0
    chunk = decoder.feed((FIXTURES / "envoy-gateway.jsonl").read_bytes())
    assert frame_records(chunk.records)[0].lineno == 41 and decoder.lineno == 64
