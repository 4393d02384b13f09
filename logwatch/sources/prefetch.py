"""Reading ahead: produce the next chunks on a worker thread while the caller processes one.

Reading, decompressing and parsing the next chunk overlaps with the pipeline stages working on
the current one; both spend most of their time in polars and zlib, which release the GIL, so
on a multi-core machine the two really run at once. At most ``depth`` chunks wait in the
queue, which bounds the extra memory.

Guarantees: items come out in the producer's order; an exception in the producer is raised in
the consumer at the point where the failed item would have come; when the consumer stops early
(exception, ``close()`` of the generator) the worker is told to stop, unblocked and joined
before the generator returns (waiting at most 30 s for a read in progress, e.g. on a silent
stdin; the thread is a daemon thread, so it cannot keep the process alive).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_JOIN_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class _Done:
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class _Item(Generic[T]):
    value: T


def prefetch(source: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Iterate ``source`` on a worker thread, ``depth`` items ahead of the caller."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    handoff: queue.Queue[_Item[T] | _Done] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: _Item[T] | _Done) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for value in source:
                if not put(_Item(value)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Done(exc))
            return
        put(_Done(None))

    worker = threading.Thread(target=produce, name="replay-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            entry = handoff.get()
            if isinstance(entry, _Done):
                if entry.error is not None:
                    raise entry.error
                return
            yield entry.value
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue; give one stuck in a read a bounded time.
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        while worker.is_alive() and time.monotonic() < deadline:
            try:
                handoff.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)
