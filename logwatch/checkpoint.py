"""Durable read positions of the followed files, in ``<state_dir>/checkpoints.json``.

Source resume contract: state comes only from the saved checkpoint, never from what a
previous process had in memory. A checkpoint points *after* the last line whose records were
delivered and made durable (the pipeline flushed), minus any bytes of an unfinished partial
CRI sequence, so a restart re-reads those and never skips one. Close may not run (SIGKILL, power
loss): everything read after the last checkpoint is read again, so delivery is at least once.

Writes are atomic: a temporary file in the same directory is written, fsynced, renamed over
the old one, and the directory is fsynced, so a crash leaves either the old or the new file.
An unreadable checkpoint is moved aside (``*.corrupt-<unix time>``) and logged, and the
daemon starts without positions rather than refusing to run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

log = logging.getLogger("logwatch.checkpoint")

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class FilePosition:
    """Where reading of one logical file resumes.

    ``key`` is the logical file (the path the glob matched, resolved); ``path``, ``dev``,
    ``ino`` and ``fingerprint`` name the physical file the offset belongs to (a rotated file
    keeps its new name here); ``size`` is that file's size when the checkpoint was taken, so
    bytes that disappear before a restart can be counted as lost.
    """

    key: str
    path: str
    dev: int
    ino: int
    fingerprint: str
    offset: int
    lineno: int
    size: int


class CheckpointStore:
    """Loads and atomically saves the positions; see the module docstring."""

    def __init__(self, state_dir: str | Path, name: str = "checkpoints.json") -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / name

    def load(self) -> dict[str, FilePosition]:
        """The saved positions by key; empty when there is no (usable) checkpoint."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document = orjson.loads(raw)
            if document.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown checkpoint version {document.get('version')!r}")
            positions = [FilePosition(**entry) for entry in document["files"]]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            log.error(
                "checkpoint unreadable; moved aside, starting without positions",
                extra={"path": str(self.path), "moved_to": str(aside), "error": str(exc)},
            )
            return {}
        return {position.key: position for position in positions}

    def save(self, positions: Iterable[FilePosition]) -> None:
        """Atomically replace the checkpoint; raises OSError when it cannot (nothing changed)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "version": FORMAT_VERSION,
            "written_unix": time.time(),
            "files": [asdict(p) for p in sorted(positions, key=lambda p: p.key)],
        }
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        directory = os.open(self.state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
