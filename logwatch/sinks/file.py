"""``--sink file:PATH``: processed records appended to a file as NDJSON.

Each line is one record with the public keys, exactly as `logwatch parse` prints them. The
sink is a pipeline stage: each batch is handed to the operating system at once (so ``tail -f``
sees records as they are processed), and ``flush`` fsyncs, so a checkpoint taken after it
never points past records that are not on disk. Delivery is at least once: after a crash the
records read since the last checkpoint are written again. A torn last line left by a crash
(no trailing newline) is cut off when the sink opens, since those records come again.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime

import polars as pl

from parsers.record import PUBLIC_KEYS

log = logging.getLogger("logwatch.sinks.file")


class FileSink:
    """A RecordStage writing NDJSON to ``path``; see the module docstring."""

    def __init__(self, path: str) -> None:
        self.path = path
        _cut_torn_tail(path)
        self._file = open(path, "ab")  # noqa: SIM115 - lives as long as the sink

    def on_records(self, records: pl.DataFrame) -> None:
        if records.height:
            buffer = io.BytesIO()
            records.select(PUBLIC_KEYS).write_ndjson(buffer)
            self._file.write(buffer.getbuffer())
            self._file.flush()

    def on_watermark(self, watermark: datetime) -> None:
        """Records are written as they come; event time does not matter here."""

    def flush(self) -> None:
        """Make every record written so far durable; raises OSError (nothing is then committed)."""
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if not self._file.closed:
            try:
                self.flush()
            finally:
                self._file.close()


def _cut_torn_tail(path: str) -> None:
    try:
        with open(path, "r+b") as existing:
            size = existing.seek(0, os.SEEK_END)
            if size == 0:
                return
            window = min(size, 1 << 20)
            while True:
                existing.seek(size - window)
                tail = existing.read(window)
                if tail.endswith(b"\n"):
                    return
                newline = tail.rfind(b"\n")
                if newline >= 0 or window == size:
                    keep = size - window + newline + 1 if newline >= 0 else 0
                    existing.truncate(keep)
                    log.warning(
                        "cut a torn last line from the sink file",
                        extra={"path": path, "bytes": size - keep},
                    )
                    return
                window = min(size, window * 2)
    except FileNotFoundError:
        return
