"""Factories and readers for tailer tests: real files in a temp dir, no mocks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from logwatch.checkpoint import FilePosition
from logwatch.config import SourcesConfig
from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk
from logwatch.sources.tail.tailer import Tailer


def sources(*globs: str | Path, **fields: object) -> SourcesConfig:
    return SourcesConfig.model_validate(
        {
            "paths": [str(g) for g in globs],
            "poll_interval_s": 0.02,
            "deleted_grace_s": 0.2,
            **fields,
        }
    )


def make_tailer(
    *globs: str | Path,
    stats: DaemonStats | None = None,
    resume: dict[str, FilePosition] | None = None,
    max_line_bytes: int = 1 << 20,
    **fields: object,
) -> tuple[Tailer, DaemonStats]:
    stats = stats or DaemonStats()
    tailer = Tailer(
        sources(*globs, **fields), max_line_bytes=max_line_bytes, stats=stats, resume=resume
    )
    return tailer, stats


async def read_once(tailer: Tailer) -> list[FileChunk]:
    """Everything the tailer can read now (discovery, reads, eager rotation switches)."""
    chunks: list[FileChunk] = []

    async def emit(chunk: FileChunk) -> None:
        chunks.append(chunk)

    await tailer.run(emit, asyncio.Event(), once=True)
    return chunks


def lines(chunks: Iterable[FileChunk], key: str | Path | None = None) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        if key is None or chunk.key == str(key):
            out.extend(chunk.data.splitlines())
    return out


def numbered(chunks: Iterable[FileChunk]) -> list[tuple[int, bytes]]:
    """(lineno, line) pairs as the chunks place them."""
    out: list[tuple[int, bytes]] = []
    for chunk in chunks:
        for index, line in enumerate(chunk.data.splitlines()):
            out.append((chunk.start_lineno + index, line))
    return out


def append(path: Path, *text: str, newline: bool = True) -> None:
    with open(path, "ab") as handle:
        for line in text:
            handle.write(line.encode() + (b"\n" if newline else b""))
        handle.flush()
        os.fsync(handle.fileno())
