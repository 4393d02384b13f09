"""The consuming side of the daemon's queue: micro-batches, processing, periodic commits.

Batches are cut by size (``batch_max_bytes``/``batch_max_lines``) from what is queued; nothing
waits for a batch to fill, so latency is the reading poll interval plus processing time.
Processing and commits run on one worker thread, one at a time, in queue order. Always the
same thread: polars' allocator keeps an arena per thread, and a pool that rotates threads
spreads each batch's garbage over several arenas that then all stay large.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from logwatch.config import DaemonConfig
from logwatch.daemon.ingest import Ingest
from logwatch.health import Verdict
from logwatch.sources.tail.chunk import FileChunk

END = None  # queued after the last chunk: drain, commit, stop
QueueItem = FileChunk | None

# liveness fails when queued data has not been processed for this long
STALL_LIMIT_S = 120.0

T = TypeVar("T")


class Consumer:
    def __init__(
        self, queue: asyncio.Queue[QueueItem], ingest: Ingest, config: DaemonConfig
    ) -> None:
        self._queue = queue
        self._ingest = ingest
        self._config = config
        self._progress_at = time.monotonic()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logwatch-pipeline")

    async def on_worker(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the pipeline's thread, between batches (stages are not locked)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, work)

    def alive(self) -> Verdict:
        """Alive unless data waits while processing has not moved for STALL_LIMIT_S."""
        stalled = time.monotonic() - self._progress_at
        if self._queue.qsize() and stalled > STALL_LIMIT_S:
            return Verdict(False, f"processing stalled for {stalled:.0f}s")
        return Verdict(True, "alive")

    async def run(self) -> bool:
        """Consume until END; returns whether the final commit succeeded.

        Raises what processing raises (a failing stage): no commit happens after that.
        """
        try:
            return await self._consume()
        finally:
            # a cancelled run (shutdown timeout) must not wait for the batch in progress
            self._worker.shutdown(wait=False)

    async def _consume(self) -> bool:
        interval = self._config.checkpoint_interval_s
        tick_every = self._config.tick_interval_s
        last_commit = last_tick = time.monotonic()
        ended = False
        while not ended:
            now = time.monotonic()
            timeout = max(0.0, min(interval - (now - last_commit), tick_every - (now - last_tick)))
            batch: list[FileChunk] = []
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                pass
            else:
                ended = self._take(item, batch)
            if batch:
                await self.on_worker(partial(self._ingest.process, batch))
                last_tick = time.monotonic()
            elif time.monotonic() - last_tick >= tick_every:
                # quiet input: the wall clock moves event time on, so alerts resolve and
                # notification groups flush without new lines
                await self.on_worker(self._ingest.pipeline.tick)
                last_tick = time.monotonic()
            self._progress_at = time.monotonic()
            if not ended and time.monotonic() - last_commit >= interval:
                await self.on_worker(self._ingest.commit)
                last_commit = time.monotonic()
        return await self.on_worker(self._ingest.commit)

    def _take(self, item: QueueItem, batch: list[FileChunk]) -> bool:
        """Add ``item`` and whatever else is queued, up to the batch limits; True at END."""
        size = lines = 0
        while True:
            if item is END:
                return True
            batch.append(item)
            size += len(item.data)
            lines += item.lines
            if size >= self._config.batch_max_bytes or lines >= self._config.batch_max_lines:
                return False
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
