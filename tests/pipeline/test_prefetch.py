"""Read-ahead: order, bounded look-ahead, errors surfaced, worker always joined."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from logwatch.sources.prefetch import prefetch


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "replay-read-ahead"]


def test_items_in_order_and_at_most_depth_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for n in range(50):
            produced.append(n)
            yield n

    seen = []
    for item in prefetch(source(), depth=2):
        # the consumer holds one item; the queue at most 2; the producer may hold one more
        assert len(produced) - len(seen) <= 4
        seen.append(item)
    assert seen == list(range(50))
    assert workers() == []


def test_producer_error_reaches_the_consumer_after_the_good_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(source()):
            seen.append(item)
    assert seen == [1, 2]
    assert workers() == []


def test_consumer_stopping_early_stops_and_joins_the_worker() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        n = 0
        try:
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    with closing(prefetch(endless(), depth=1)) as items:
        for item in items:
            if item == 5:
                break
    assert workers() == []
    assert closed.wait(5)


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        next(prefetch(iter([1]), depth=0))
