"""Bounded attribute values: the first N distinct values of an attribute are kept, the rest
fold into ``__overflow__``.

Why first-come: a series, once exported, keeps its labels for the life of the process, so
dashboards and rate() never see a value move in or out of the overflow bucket. The price is
that a flood of junk values early in the process life can take the slots; size the caps well
above the real number of routes/clusters/workloads so that only junk overflows.

Memory is bounded by the cap: rejected values are never remembered.
"""

from __future__ import annotations

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
        self.folded = 0  # values mapped to OVERFLOW so far

    @property
    def admitted(self) -> frozenset[str]:
        return frozenset(self._admitted)

    def fold(self, value: str | None) -> str:
        """``value`` when admitted (admitting it while there is room), ``MISSING`` when null
        or empty, ``OVERFLOW`` otherwise. Called once per distinct attribute set of a batch,
        never per line."""
        if value is None or value == MISSING:
            return MISSING
        value = value[: self.max_length]
        if value in self._admitted:
            return value
        if len(self._admitted) < self.cap:
            self._admitted.add(value)
            return value
        self.folded += 1
        return OVERFLOW
