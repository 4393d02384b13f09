"""Bounded attribute values: the first N distinct values of an attribute are kept, the rest
fold into ``__overflow__``.

Why first-come: a series, once exported, keeps its labels for the life of the process, so
dashboards and rate() never see a value move in or out of the overflow bucket. The price is
that a flood of junk values early in the process life can take the slots; size the caps well
above the real number of routes/clusters/workloads so that only junk overflows.

Memory is bounded by the cap: rejected values are never remembered.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

OVERFLOW = "__overflow__"
# The value reported when the record has no value for the attribute (e.g. no route matched).
MISSING = ""


class BoundedValues:
    """The admitted values of one attribute (not thread-safe: one pipeline thread folds)."""

    def __init__(self, name: str, cap: int, max_length: int = 256) -> None:
        if cap < 1:
            raise ValueError(f"cardinality cap of {name} must be >= 1, got {cap}")
        self.name = name
        self.cap = cap
        self.max_length = max_length
        self._admitted: set[str] = set()
        self._admitted_series = pl.Series(name, [], dtype=pl.String)
        self.folded = 0  # rows / values mapped to OVERFLOW so far

    @property
    def admitted(self) -> frozenset[str]:
        return frozenset(self._admitted)

    def fold(self, values: pl.Series) -> pl.Series:
        """Map each value to itself when admitted (admitting new ones while there is room),
        to ``MISSING`` when null, and to ``OVERFLOW`` otherwise. Vectorised: Python work is
        proportional to the number of *new* distinct values, never to the rows."""
        values = values.cast(pl.String).fill_null(MISSING).str.slice(0, self.max_length)
        if len(self._admitted) < self.cap:
            candidates = values.unique(maintain_order=True)
            fresh = candidates.filter(~candidates.is_in(self._admitted_series.implode()))
            self._admit(value for value in fresh.to_list() if value != MISSING)
        value = pl.col(self.name)
        out = (
            values.rename(self.name)
            .to_frame()
            .select(
                pl.when(value.is_in(self._admitted_series.implode()) | (value == MISSING))
                .then(value)
                .otherwise(pl.lit(OVERFLOW))
            )
            .to_series()
        )
        self.folded += int((out == OVERFLOW).sum())
        return out

    def fold_one(self, value: str | None) -> str:
        """The same decision for a single value (low-rate paths: the daemon's own counters)."""
        if value is None or value == MISSING:
            return MISSING
        value = value[: self.max_length]
        if value in self._admitted:
            return value
        if len(self._admitted) < self.cap:
            self._admit((value,))
            return value
        self.folded += 1
        return OVERFLOW

    def _admit(self, values: Iterable[str]) -> None:
        added = False
        for value in values:
            if len(self._admitted) >= self.cap:
                break
            self._admitted.add(value)
            added = True
        if added:
            self._admitted_series = pl.Series(self.name, sorted(self._admitted), dtype=pl.String)


def allow_listed(values: pl.Expr, allowed: Iterable[str], other: str = "other") -> pl.Expr:
    """Keep values from a fixed vocabulary (roles, directions, error classes); anything else
    becomes ``other``, null becomes ``MISSING``."""
    vocabulary = pl.Series(sorted(set(allowed)), dtype=pl.String).implode()
    return (
        pl.when(values.is_null())
        .then(pl.lit(MISSING))
        .when(values.is_in(vocabulary))
        .then(values)
        .otherwise(pl.lit(other))
    )
