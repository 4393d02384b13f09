"""Helpers for daemon tests: CRI-wrapped access lines and a stage that keeps what it gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def envoy_json(request_id: str) -> str:
    """An Envoy Gateway JSON access line (fixture line 1) with its own x-request-id."""
    line = (FIXTURES / "envoy-gateway.jsonl").read_text().splitlines()[0]
    return line.replace("2b8e6c1f-6f1e-4f43-9c39-0c1f2a7d9e51", request_id)


def cri(content: str, tag: str = "F", stream: str = "stdout", ts: str | None = None) -> str:
    return f"{ts or '2025-07-18T03:33:20.116830544Z'} {stream} {tag} {content}"


def now_ts() -> str:
    """The current time as containerd writes it (RFC 3339, nanoseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class Collect:
    """A RecordStage that keeps the batches; ``flushes`` counts successful flushes."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []
        self.flushes = 0
        self.fail_flush = False

    def on_records(self, records: pl.DataFrame) -> None:
        self.frames.append(records)

    def on_watermark(self, watermark: datetime) -> None:
        pass

    def flush(self) -> None:
        if self.fail_flush:
            raise OSError("disk full")
        self.flushes += 1

    def request_ids(self) -> list[str]:
        return [rid for frame in self.frames for rid in frame.get_column("request_id").to_list()]
