"""Two independent parts of a step, computed at once.

Polars releases the GIL while it computes, and one step's frames are mostly too small for
polars to spread over every core by itself: two parts that share no state, run in two
threads, keep a second core busy. A thread per call (well under a millisecond, a step costs
tens) leaves no pool alive between steps, nor across a fork.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


def both(here: Callable[[], A], aside: Callable[[], B]) -> tuple[A, B]:
    """``(here(), aside())``, ``aside`` in a thread of its own. ``aside`` may change only
    objects of its own and read only what ``here`` does not change. An exception of either
    is raised here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(aside)
        return here(), later.result()
