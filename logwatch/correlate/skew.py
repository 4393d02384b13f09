"""Clock offsets between nodes, learned from confident joins.

Node clocks disagree by up to ``max_clock_skew_s``, which is wide next to the milliseconds
that separate neighbouring connections. The offset between two given nodes is nearly
constant, though. An estimate is kept per (ztunnel file, destination pod IP): the file is the
source node, and a pod lives on one node, so the key fixes both clocks while being known
before any join (the inbound record's file is not). Once a few unambiguous outbound/inbound
pairs were seen for a key, later candidates are searched within ``skew_residual_ms`` of the
offset instead of the whole skew, which also makes the candidate search cheap.
"""

from __future__ import annotations

import polars as pl

OFFSET_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "peer": pl.String(),
    "offset_us": pl.Int64(),
}

# Samples an estimate remembers; newer samples keep it following slow clock drift.
_MEMORY = 200
# Samples needed before an estimate is trusted.
_MIN_SAMPLES = 3
# Keys kept (source files x destination pods); the least recently learned go first.
_MAX_KEYS = 50_000


class ClockOffsets:
    """Per (file, peer) offset estimate: the peer's clock minus this file's."""

    def __init__(self) -> None:
        self._estimates: dict[tuple[str, str], tuple[float, int]] = {}
        self._frame: pl.DataFrame | None = None

    def __len__(self) -> int:
        return len(self._estimates)

    def learn(self, samples: pl.DataFrame) -> None:
        """Fold in ``samples`` (file, peer, offset_us) of confident, unambiguous joins."""
        if samples.height == 0:
            return
        medians = samples.group_by("file", "peer").agg(
            pl.col("offset_us").median().alias("median"), pl.len().alias("n")
        )
        for file, other, median, count in medians.iter_rows():
            mean, seen = self._estimates.get((file, other), (0.0, 0))
            total = min(seen + count, _MEMORY)
            weight = count / (seen + count)
            self._estimates.pop((file, other), None)
            self._estimates[(file, other)] = (mean + (median - mean) * weight, total)
        while len(self._estimates) > _MAX_KEYS:
            del self._estimates[next(iter(self._estimates))]
        self._frame = None

    def frame(self) -> pl.DataFrame:
        """Trusted estimates as (file, peer, offset_us)."""
        if self._frame is None:
            rows = [
                (file, other, round(mean))
                for (file, other), (mean, seen) in self._estimates.items()
                if seen >= _MIN_SAMPLES
            ]
            self._frame = pl.DataFrame(rows, schema=OFFSET_SCHEMA, orient="row")
        return self._frame
