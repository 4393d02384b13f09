"""Parsed sample files shared by the correlation tests (the real parser, real fixture lines)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from parsers import StreamDecoder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# ztunnel.log mixes formats to keep one file; a real pod writes one. Lines 29-34 repeat flows
# of the plain lines in JSON, so only the plain part (1-28) is a consistent node log.
ZTUNNEL_PLAIN_LINES = 28


def parse_fixture(name: str, max_lines: int | None = None) -> pl.DataFrame:
    """Records of ``tests/fixtures/<name>``, file column = the fixture name."""
    data = (FIXTURES / name).read_bytes()
    if max_lines is not None:
        data = b"".join(data.splitlines(keepends=True)[:max_lines])
    decoder = StreamDecoder(file=name)
    chunk = decoder.feed(data)
    assert not chunk.rejections, chunk.rejections
    return chunk.records


def sample_batches() -> list[pl.DataFrame]:
    return [
        parse_fixture("envoy-gateway.jsonl"),
        parse_fixture("istio-text.log"),
        parse_fixture("ztunnel.log", ZTUNNEL_PLAIN_LINES),
    ]
