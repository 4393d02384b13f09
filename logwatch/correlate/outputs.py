"""What finalization produces, buffered until read: paths, per-hop metrics, ztunnel pairs.

Everything stays columnar until a reader asks: ``drain_paths`` builds objects, the others
hand out frames. Each buffer is bounded (``max_undrained_hops``, or the newest step when
that alone is larger); a reader that drains too seldom loses only the oldest buffered
output, counted in
``CorrelationStats.undrained_hops_dropped``, never any join or count. A separate bounded
window of recent steps (``recent_hops``) serves ``recent_path`` for alert samples. A process
that never reads paths (the daemon, a replay without ``--paths``) calls ``keep_recent_only``:
then only that window is held, and the hop metrics if it reads those (the daemon's metrics).

A step's hops are cut from the pending state and share its string buffers (see
``compact_strings``). They are copied only if still held here when the next step comes (most
are drained or have left the recent window by then), so at most the newest step holds on to
buffers the pending state has let go of. Frames handed out by the drain methods before that
copy still share them: a reader that keeps such frames long copies what it keeps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import TypeVar

import polars as pl

from logwatch.correlate.assemble import build_paths
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.finalize import JoinedHops
from logwatch.correlate.frames import compact_strings
from logwatch.correlate.path import RequestPath
from logwatch.correlate.stats import CorrelationStats

T = TypeVar("T")

HOP_METRIC_COLUMNS = (
    "role",
    "proxy_workload",
    "namespace",
    "route_name",
    "upstream_cluster",
    "duration_ms",
    "added_latency_ms",
    "signals",
    "hop_index",
)
HOP_METRIC_SCHEMA: dict[str, pl.DataType] = {
    "role": pl.String(),
    "pod": pl.String(),
    "namespace": pl.String(),
    "route_name": pl.String(),
    "upstream_cluster": pl.String(),
    "duration_ms": pl.Int64(),
    "added_latency_ms": pl.Int64(),
    "signals": pl.List(pl.String()),
    "hop_index": pl.Int64(),
}
PAIR_SCHEMA: dict[str, pl.DataType] = {
    "outbound_file": pl.String(),
    "outbound_lineno": pl.Int64(),
    "inbound_file": pl.String(),
    "inbound_lineno": pl.Int64(),
    "confidence": pl.Float64(),
}


class Outputs:
    def __init__(self, config: CorrelationConfig, stats: CorrelationStats) -> None:
        self._config = config
        self._stats = stats
        self._undrained: deque[JoinedHops] = deque()
        self._undrained_hops = 0
        self._recent: deque[JoinedHops] = deque()
        self._recent_hops = 0
        self._hop_metrics: deque[pl.DataFrame] = deque()
        self._hop_metric_rows = 0
        self._pairs: list[pl.DataFrame] = []
        self._paths_buffering = True
        self._metrics_buffering = True
        # the newest step (and its metrics frame) while its strings are not copied yet
        self._fresh: JoinedHops | None = None
        self._fresh_metrics: pl.DataFrame | None = None

    def keep_recent_only(self, *, hop_metrics: bool) -> None:
        """Stop buffering for the drain methods (they return nothing new from now on) but
        for ``drain_hop_metrics`` when ``hop_metrics``; only the ``recent_hops`` window is
        kept, so memory does not hold output nobody reads."""
        self._paths_buffering = False
        self._undrained.clear()
        self._undrained_hops = 0
        self._metrics_buffering = hop_metrics
        if not hop_metrics:
            self._hop_metrics.clear()
            self._hop_metric_rows = 0

    def keep(self, joined: JoinedHops) -> None:
        previous, previous_metrics = self._fresh, self._fresh_metrics
        if self._metrics_buffering:
            self._buffer_metrics(joined)
        if self._paths_buffering:
            self._buffer_paths(joined)
        self._recent.append(joined)
        self._recent_hops += joined.hops.height
        while self._recent and self._recent_hops - self._recent[0].hops.height >= (
            self._config.recent_hops
        ):
            self._recent_hops -= self._recent.popleft().hops.height
        self._fresh = joined
        # The previous step's strings are copied only now, if it is still held: then it
        # pins nothing of the pending state (legs come copied already, see ``JoinedHops``).
        if previous is not None and (
            _held(self._recent, previous) or _held(self._undrained, previous)
        ):
            settled = replace(previous, hops=compact_strings(previous.hops))
            _swap(self._recent, previous, settled)
            _swap(self._undrained, previous, settled)
        if previous_metrics is not None and _held(self._hop_metrics, previous_metrics):
            _swap(self._hop_metrics, previous_metrics, compact_strings(previous_metrics))

    def _buffer_metrics(self, joined: JoinedHops) -> None:
        metrics = joined.hops.select(HOP_METRIC_COLUMNS).rename({"proxy_workload": "pod"})
        self._fresh_metrics = metrics
        self._hop_metrics.append(metrics)
        self._hop_metric_rows += metrics.height
        while (
            self._hop_metric_rows > self._config.max_undrained_hops and len(self._hop_metrics) > 1
        ):
            self._hop_metric_rows -= self._hop_metrics.popleft().height

    def _buffer_paths(self, joined: JoinedHops) -> None:
        limit = self._config.max_undrained_hops
        self._undrained.append(joined)
        self._undrained_hops += joined.hops.height
        # the newest step stays whatever its size: a reader draining after each batch
        # loses nothing
        while self._undrained_hops > limit and len(self._undrained) > 1:
            dropped = self._undrained.popleft()
            self._undrained_hops -= dropped.hops.height
            self._stats.undrained_hops_dropped += dropped.hops.height

    def keep_pairs(self, pairs: pl.DataFrame) -> None:
        self._pairs.append(pairs)

    def drain_paths(self) -> list[RequestPath]:
        paths: list[RequestPath] = []
        while self._undrained:
            step = self._undrained.popleft()
            paths.extend(build_paths(step.hops, step.legs))
        self._undrained_hops = 0
        return paths

    def drain_path_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        steps = list(self._undrained)
        self._undrained.clear()
        self._undrained_hops = 0
        if not steps:
            return pl.DataFrame(), pl.DataFrame()
        return pl.concat([s.hops for s in steps]), pl.concat([s.legs for s in steps])

    def drain_hop_metrics(self) -> pl.DataFrame:
        frames = list(self._hop_metrics)
        self._hop_metrics.clear()
        self._hop_metric_rows = 0
        if not frames:
            return pl.DataFrame(schema=HOP_METRIC_SCHEMA)
        return pl.concat(frames)

    def drain_pairs(self) -> pl.DataFrame:
        frames, self._pairs = self._pairs, []
        if not frames:
            return pl.DataFrame(schema=PAIR_SCHEMA)
        return pl.concat(frames)

    def recent_path(self, request_id: str) -> RequestPath | None:
        for step in reversed(self._recent):
            hops = step.hops.filter(pl.col("path_key") == request_id)
            if hops.height:
                legs = step.legs.filter(pl.col("hop_id").is_in(hops["id"].implode()))
                return build_paths(hops, legs)[0]
        return None

    def estimated_bytes(self) -> int:
        """Heap held by the buffers (polars' estimate; recent and undrained share frames)."""
        steps = {id(s): s for s in (*self._undrained, *self._recent)}
        total = sum(int(s.hops.estimated_size() + s.legs.estimated_size()) for s in steps.values())
        total += sum(int(f.estimated_size()) for f in self._hop_metrics)
        return total + sum(int(f.estimated_size()) for f in self._pairs)


def _held(items: deque[T], item: T) -> bool:
    return any(held is item for held in items)


def _swap(items: deque[T], old: T, new: T) -> None:
    """Replace ``old`` (the very object) by ``new`` in ``items``, if there."""
    for index, held in enumerate(items):
        if held is old:
            items[index] = new
            return
