"""The correlation stage: rebuilds each request's path from record batches, in event time.

State (all bounded):
- pending hops: Envoy records of paths still open. A path closes when the watermark (minus
  ``allowed_lateness_s``) passes its last hop's end plus ``join_window_s``; its hops are then
  joined to ztunnel connections and it becomes final (``drain_paths``). That is checked in
  steps, every third of a window of event time once ``_STEP_MIN_RECORDS`` records came in
  since the last step, else once a whole window passed: a path is final at most one window
  after it closed (a third of one under load). A replay waits for the records alone
  (``step_by_volume``). Finalized output is buffered up to
  ``max_undrained_hops``: a reader that does not want paths need not drain them.
- retained connections: ztunnel records, joinable until ``join_window_s`` after their close.
- a pod IP -> workload directory (see ``enrich``).
Above ``max_pending_entries`` the oldest paths are finalized early and the oldest connections
dropped, each counted in ``stats.evictions``: a flood of unique request ids costs memory only
up to that bound. A record arriving after its window closed is still used (it may start a
path of its own) and counted in ``stats.late_records``.

Durability: ``flush`` persists nothing. Correlation state is derived from at most
``join_window_s`` of recent records; after a restart, paths that were open are finalized
from the records read after it, so at most one window of paths lacks hops from before the
restart. Metrics and alerts never wait on a path, so nothing durable depends on this state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from logwatch.correlate.approx import downstream_legs
from logwatch.correlate.assemble import build_paths
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.counting import count_step
from logwatch.correlate.enrich import WorkloadDirectory
from logwatch.correlate.finalize import JoinedHops, join_hops
from logwatch.correlate.frames import (
    CONN_SCHEMA,
    HOP_SCHEMA,
    collect,
    compact_strings,
    count_late,
    count_where,
    split_records,
)
from logwatch.correlate.keys import MS, US
from logwatch.correlate.l4 import exact_l4_joins
from logwatch.correlate.outputs import Outputs
from logwatch.correlate.overlap import both
from logwatch.correlate.pairing import pair_step
from logwatch.correlate.path import RequestPath
from logwatch.correlate.skew import ClockOffsets
from logwatch.correlate.stats import CorrelationStats

log = logging.getLogger(__name__)

# Finalization scans all pending state, so it runs at most once per this much event time
# (a third of the join window, at least 1 s): paths close a little later, never wrongly.
_MIN_STEP_US = 1 * US
# Pending strings are copied once this many times as many rows left a frame as remain: a
# step finalizes about a batch of hops and keeps the last window, so at 1 (copy at half
# dead) nearly every step copied the whole pending state; at 3 a copy comes every few steps
# and buffers stay within about four times the live rows.
_SPARSE_RATIO = 3
# A step's cost is mostly fixed (a few dozen frame operations over the pending state), so
# once due by time it waits, up to a whole window, until this many records came in since
# the last one: at moderate rates fewer, larger steps; at high rates every third of a window.
_STEP_MIN_RECORDS = 50_000
# Record batches are taken in together once this many rows wait (sooner when a step is due,
# the pending bound is near or a lookup needs them): the split into hops and connections
# costs about as much for a small batch as for this many.
_INTAKE_ROWS = 32_768


@dataclass(frozen=True, slots=True)
class StateSize:
    """entries: pending hops + retained connections + records waiting to be taken in +
    directory IPs. join_bytes: polars' ``estimated_size`` of those frames plus a
    ``sys.getsizeof`` walk of the directory.
    output_bytes: finalized results buffered for readers (paths, hop metrics, the recent
    window for ``path_for``), bounded by ``max_undrained_hops`` and ``recent_hops``."""

    entries: int
    join_bytes: int
    output_bytes: int


class Correlator:
    """Implements ``logwatch.pipeline.stages.RecordStage``; see the module docstring."""

    def __init__(self, config: CorrelationConfig) -> None:
        self._config = config
        self.stats = CorrelationStats()
        self._directory = WorkloadDirectory(config.workload_ttl_s)
        self._offsets = ClockOffsets()
        self._window_us = int(config.join_window_s * US)
        self._lateness_us = int(config.allowed_lateness_s * US)
        self._max_age_us = int(config.max_path_age_s * US)
        self._step_us = max(_MIN_STEP_US, self._window_us // 3)
        # how long a due step may wait for _STEP_MIN_RECORDS (None: as long as it takes)
        self._max_step_wait_us: int | None = self._window_us
        self._settle_us = int(config.max_clock_skew_s * US) + config.l4_time_tolerance_ms * MS
        self._next_id = 0
        self._hops = pl.DataFrame(schema=HOP_SCHEMA)
        self._hop_chunks: list[pl.DataFrame] = []
        self._conns = pl.DataFrame(schema=CONN_SCHEMA)
        self._conn_chunks: list[pl.DataFrame] = []
        self._pending_hops = 0
        self._pending_conns = 0
        # rows removed from each pending frame since its strings were last compacted
        self._removed_hops = 0
        self._removed_conns = 0
        self._horizon_us: int | None = None
        self._last_step_us: int | None = None
        self._arrived_since_step = 0
        # record batches not taken in yet (see ``_INTAKE_ROWS``)
        self._inbox: list[pl.DataFrame] = []
        self._inbox_rows = 0
        self._outputs = Outputs(config, self.stats)

    # -- RecordStage -------------------------------------------------------------------

    def on_records(self, records: pl.DataFrame) -> None:
        """Take one batch (``RECORD_SCHEMA``); joins happen when windows close."""
        if not self._config.enabled or records.height == 0:
            return
        untimed = records["ts"].null_count()
        if untimed:
            # Without an event time a record can join nothing and close no window.
            self.stats.records_without_time += untimed
            log.warning("correlation skipped %d records without a time", untimed)
            records = records.filter(pl.col("ts").is_not_null())
            if records.height == 0:
                return
        if self._horizon_us is not None:
            self.stats.late_records += count_late(records, self._horizon_us - self._window_us)
        self._inbox.append(records)
        self._inbox_rows += records.height
        self._arrived_since_step += records.height
        limit = self._config.max_pending_entries
        if (
            self._inbox_rows >= _INTAKE_ROWS
            or self._pending_hops + self._pending_conns + self._inbox_rows > limit
        ):
            self._take_in()

    def on_watermark(self, watermark: datetime) -> None:
        """Close the paths and connections whose window ended before ``watermark``."""
        if not self._config.enabled:
            return
        horizon = int(watermark.timestamp() * US) - self._lateness_us
        if self._horizon_us is not None and horizon <= self._horizon_us:
            return
        self._horizon_us = horizon
        if self._last_step_us is not None:
            advanced = horizon - self._last_step_us
            if advanced < self._step_us:
                return
            if self._arrived_since_step < _STEP_MIN_RECORDS and (
                self._max_step_wait_us is None or advanced < self._max_step_wait_us
            ):
                return
        self._last_step_us = horizon
        self._arrived_since_step = 0
        self._advance(horizon)
        self._update_gauges()

    def flush(self) -> None:
        """Nothing to persist: see "Durability" in the module docstring."""

    # -- outputs -----------------------------------------------------------------------

    def drain_paths(self) -> list[RequestPath]:
        """Paths finalized since the last call, each once, in finalization order."""
        return self._outputs.drain_paths()

    def drain_path_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Like ``drain_paths`` but columnar, for bulk consumers: (hops, legs) frames; hops
        carry ``path_key``/``hop_index``, legs ``hop_id`` plus the ztunnel line's fields."""
        return self._outputs.drain_path_frames()

    def drain_hop_metrics(self) -> pl.DataFrame:
        """Finalized hops since the last call, for per-hop metrics. Columns: role, pod,
        namespace, route_name, upstream_cluster, duration_ms, added_latency_ms, signals,
        hop_index."""
        return self._outputs.drain_hop_metrics()

    def drain_connection_pairs(self) -> pl.DataFrame:
        """ztunnel outbound <-> inbound pairs made since the last call (only when
        ``keep_connection_pairs``): outbound_file, outbound_lineno, inbound_file,
        inbound_lineno, confidence."""
        return self._outputs.drain_pairs()

    def keep_recent_only(self, *, hop_metrics: bool = False) -> None:
        """For a process that never reads paths (the daemon, a replay without ``--paths``):
        from now on finalized output is kept only in the ``recent_hops`` window that serves
        ``path_for``, and for ``drain_hop_metrics`` when ``hop_metrics``; the other drain
        methods return nothing new (connection pairs excepted)."""
        self._outputs.keep_recent_only(hop_metrics=hop_metrics)

    def step_by_volume(self) -> None:
        """For a replay, where nothing waits on a path in wall time: from now on a due step
        waits for ``_STEP_MIN_RECORDS`` records however much event time that takes (a live
        process waits at most one join window), so a slow stream costs fewer, larger steps.
        Joins are the same; paths become final later in event time."""
        self._max_step_wait_us = None

    def state_size(self) -> StateSize:
        """What the correlator holds now (see :class:`StateSize`); looking changes nothing,
        so record batches waiting to be taken in count as they are."""
        frames = [self._hops, *self._hop_chunks, self._conns, *self._conn_chunks, *self._inbox]
        return StateSize(
            entries=sum(frame.height for frame in frames) + len(self._directory),
            join_bytes=sum(int(frame.estimated_size()) for frame in frames)
            + self._directory.estimated_bytes(),
            output_bytes=self._outputs.estimated_bytes(),
        )

    def finish(self) -> list[RequestPath]:
        """End of input: finalize every open path, expire every connection, and return the
        paths not drained yet."""
        self.finalize_all()
        return self.drain_paths()

    def finalize_all(self) -> None:
        """Finalize every open path and expire every connection, leaving the results in the
        output buffers (for ``drain_path_frames``)."""
        if self._config.enabled:
            self._advance(None)
            self._update_gauges()

    def summary(self) -> dict[str, Any]:
        """The report's ``hops`` section (over finalized paths: call ``finish`` first)."""
        return self.stats.summary()

    def path_for(self, request_id: str) -> RequestPath | None:
        """The most recent path of ``request_id``: finalized if still remembered, else the
        provisional one from pending hops (no ztunnel legs yet); None when unknown."""
        recent = self._outputs.recent_path(request_id)
        if recent is not None:
            return recent
        self._consolidate()
        pending = self._hops.filter(pl.col("path_key") == request_id)
        if pending.height == 0:
            return None
        no_conns = self._conns.clear()
        downstream = downstream_legs(pending, no_conns, self._config)
        joined = join_hops(pending, _no_l4(), downstream, no_conns, self._directory, self._config)
        return build_paths(joined.hops, joined.legs)[0]

    # -- state -------------------------------------------------------------------------

    def _take_in(self) -> None:
        """Split the waiting record batches into pending hops and connections."""
        if not self._inbox:
            return
        records = pl.concat(self._inbox, rechunk=False) if len(self._inbox) > 1 else self._inbox[0]
        self._inbox.clear()
        self._inbox_rows = 0
        intake = split_records(records, self._next_id)
        # The connections, and the directory learning from them, cost about what the hops
        # cost alone: the hops are collected meanwhile.
        conns, hops = both(lambda: self._learn(collect(intake.conns)), lambda: collect(intake.hops))
        self._next_id += hops.height + conns.height
        self.stats.connections_opened_ignored += intake.connections_opened
        if hops.height:
            self._hop_chunks.append(hops)
            self._pending_hops += hops.height
        if conns.height:
            self._conn_chunks.append(conns)
            self._pending_conns += conns.height
            self.stats.connections += conns.height
        self._enforce_limits()
        self._update_gauges()

    def _consolidate(self) -> None:
        self._take_in()
        if self._hop_chunks:
            self._hops = pl.concat([self._hops, *self._hop_chunks])
            self._hop_chunks.clear()
        if self._conn_chunks:
            self._conns = pl.concat([self._conns, *self._conn_chunks])
            self._conn_chunks.clear()

    def _learn(self, conns: pl.DataFrame) -> pl.DataFrame:
        """``conns``, once the directory learned the workloads they name."""
        self._directory.learn(conns)
        return conns

    def _advance(self, horizon: int | None) -> None:
        """Finalize closed paths, pair settled connections, expire old ones (None: all)."""
        self._consolidate()
        if horizon is None:
            ready = pl.repeat(True, pl.len())
        else:
            # A path closes once none of its hops ended within the window; and a request id
            # that keeps coming back (a client pinning x-request-id) must not hold its path,
            # and every connection it could use, open forever. (Key sets of the few open or
            # too old hops cost less than aggregating every path.)
            key = pl.col("path_key")
            still_open = key.filter(pl.col("end_us") + self._window_us >= horizon)
            too_old = key.filter(pl.col("start_us") + self._max_age_us < horizon)
            ready = ~key.is_in(still_open.implode()) | key.is_in(too_old.implode())
        in_ready = self._hops.select(ready.alias("ready")).to_series()
        # Settled connections first: most connections the closing paths need are then
        # paired already, and the forced pass in _finalize has little left to do.
        settled = (
            pl.lit(True) if horizon is None else pl.col("close_us") + self._settle_us < horizon
        )
        if in_ready.any():
            self._finalize(in_ready, settled)
        else:
            self._pair(settled, final=True)
        if horizon is None:
            expired = pl.lit(True)
        else:
            # A connection stays while an open path has a hop it could carry: paths close on
            # their last hop, so an earlier hop of an open path may still need it.
            expired = pl.col("close_us") + self._window_us < horizon
            if self._hops.height:
                oldest_start = self._hops["start_us"].min()
                expired = expired & (pl.col("close_us") + self._settle_us < oldest_start)
        gone = self._conns.filter(expired)
        if gone.height:
            unmatched = gone.filter(~pl.col("joined"))["direction"].fill_null("unknown")
            for direction, count in unmatched.value_counts().iter_rows():
                self.stats.unmatched[f"ztunnel_{direction}"] += count
            self._conns = self._conns.filter(~expired)
            self._pending_conns = self._conns.height
            self._removed_conns += gone.height
        if horizon is not None:
            self._directory.expire(horizon)
        self._compact_if_sparse()

    def _finalize(self, in_ready: pl.Series, settled: pl.Expr | None = None) -> None:
        """Finalize the pending hops where ``in_ready`` (every hop of the paths closing),
        first pairing the ``settled`` outbound connections (if given) with final=True."""
        ready = self._hops.filter(in_ready)
        self._hops = self._hops.filter(~in_ready)
        self._pending_hops = self._hops.height
        self._removed_hops += ready.height
        # Only connections alive around the closing hops can join them; cutting the rest
        # first keeps a step's cost with the work it does, not with the retained state.
        first_start, last_end = ready.select(pl.col("start_us").min(), pl.col("end_us").max()).row(
            0
        )
        near = (pl.col("close_us") >= first_start - self._settle_us) & (
            pl.col("open_us") <= last_end + self._settle_us
        )
        near_conns = self._conns.filter(near)
        # The exact and downstream joins of the hops read no pairing column (nor the pending
        # state): they run while the settled connections are paired and, the closing hops
        # having left, the pending strings are copied if due. The pairing they call for
        # comes after.
        _, (l4, downstream) = both(
            lambda: self._settle(settled),
            lambda: self._hop_joins(ready, near_conns),
        )
        self._pair(pl.col("id").is_in(l4["conn_id"].implode()), final=False)
        joined = join_hops(
            ready, l4, downstream, self._conns.filter(near), self._directory, self._config
        )
        l4_candidates = count_where(
            ready,
            pl.col("upstream_local_address").is_not_null()
            & ~pl.col("upstream_local_address").str.starts_with("envoy://"),
        )
        self.stats.unmatched["l4"] += l4_candidates - l4.height
        # Counting reads nothing but the step's results: it runs, into counts of its own
        # added after, while the connections and the outputs take them in.
        counted = CorrelationStats()
        both(lambda: self._keep(joined), lambda: count_step(counted, joined, l4))
        self.stats.add(counted)

    def _keep(self, joined: JoinedHops) -> None:
        """Mark the connections ``joined`` used, and buffer its output."""
        joined_ids = joined.legs["conn_id"].unique().implode()
        self._conns = self._conns.with_columns(
            (pl.col("joined") | pl.col("id").is_in(joined_ids)).alias("joined")
        )
        self._outputs.keep(joined)

    def _settle(self, settled: pl.Expr | None) -> None:
        """The settled pass (when given), then the copy of pending strings if due."""
        if settled is not None:
            self._pair(settled, final=True)
        self._compact_if_sparse()

    def _hop_joins(
        self, ready: pl.DataFrame, near_conns: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Exact L4 joins and downstream legs of ``ready`` to ``near_conns``: reads nothing
        the step changes meanwhile (see ``overlap.both``)."""
        return (
            exact_l4_joins(ready, near_conns, self._config.l4_time_tolerance_ms),
            downstream_legs(ready, near_conns, self._config),
        )

    def _pair(self, which: pl.Expr, *, final: bool) -> None:
        """Pair outbound connections selected by ``which`` with their inbound side."""
        self._conns = pair_step(
            self._conns, which, self._config, self._offsets, self.stats, self._outputs, final=final
        )

    def _enforce_limits(self) -> None:
        half = self._config.max_pending_entries // 2
        if self._pending_hops + self._pending_conns <= self._config.max_pending_entries:
            return
        self._consolidate()
        if self._conns.height > half:
            excess = self._conns.height - half
            self._conns = self._conns.sort("close_us").slice(excess)
            self._pending_conns = self._conns.height
            self._removed_conns += excess
            self.stats.evictions["connections"] += excess
        if self._hops.height > half:
            excess = self._hops.height - half
            by_age = (
                self._hops.group_by("path_key")
                .agg(pl.col("end_us").max(), pl.len().alias("n"))
                .sort("end_us")
                .with_columns(pl.col("n").cum_sum().alias("cum"))
            )
            oldest = by_age.filter(pl.col("cum") - pl.col("n") < excess)["path_key"]
            self.stats.evictions["paths"] += oldest.len()
            self._finalize(self._hops["path_key"].is_in(oldest.implode()))
        self._compact_if_sparse()

    def _compact_if_sparse(self) -> None:
        """Copy a pending frame's strings once ``_SPARSE_RATIO`` times as many rows left it
        as remain: rows that stay pin the buffers of the batches they came in (see
        ``compact_strings``), so this bounds memory to a small multiple of the live state
        at a copy cost linear in the input. Each frame is counted apart: hops leave in bulk,
        connections a few at a time."""
        if self._removed_hops > _SPARSE_RATIO * self._hops.height:
            self._hops = compact_strings(self._hops)
            self._removed_hops = 0
        if self._removed_conns > _SPARSE_RATIO * self._conns.height:
            self._conns = compact_strings(self._conns)
            self._removed_conns = 0

    def _update_gauges(self) -> None:
        self.stats.pending_hops = self._pending_hops
        self.stats.pending_connections = self._pending_conns
        self.stats.workloads_known = len(self._directory)


def _no_l4() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"hop_id": pl.Int64(), "conn_id": pl.Int64(), "candidates": pl.UInt32()}
    )
