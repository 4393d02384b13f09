"""Per-group evaluation: the condition of each rule kind and the pending/firing/quiet machine.

A group moves ``idle -> pending`` when its condition becomes true, ``pending -> firing`` once
it held for ``for`` (at once when ``for`` is 0), ``pending -> idle`` if it stops holding
first, and ``firing -> idle`` (resolved) once it has been false for ``resolve_after``.
Conditions only change at bucket instants (``rules.compiled``), so between two instants
the machine only has deadlines to check.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Literal

from rules.compiled import CompiledRule
from rules.model import AbsenceRule, NewValueRule, RatioRule, SpikeRule, ThresholdRule
from rules.transition import AlertTransition

Phase = Literal["idle", "pending", "firing"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Group:
    """Counters and alert state of one rule + label values."""

    key: tuple[str, ...]
    first_seen: int
    last_seen: int
    # buckets as parallel lists sorted by end, so window sums are slices summed in C
    ends: list[int] = field(default_factory=list)
    matched: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    phase: Phase = "idle"
    since: int = 0  # when the condition began (pending/firing)
    quiet_since: int | None = None  # firing, but the condition is false since then
    events: int = 0
    value: float = 0.0
    novel_since: int | None = None  # new_value: first appearance after learning
    late: bool = False  # records arrived for buckets already evaluated
    sample: dict[str, str] | None = None

    def add(self, end: int, matched: int, total: int) -> None:
        i = bisect_left(self.ends, end)
        if i < len(self.ends) and self.ends[i] == end:
            self.matched[i] += matched
            self.total[i] += total
        else:
            self.ends.insert(i, end)
            self.matched.insert(i, matched)
            self.total.insert(i, total)
        self.first_seen = min(self.first_seen, end)
        self.last_seen = max(self.last_seen, end)

    def add_many(self, ends: list[int], matched: list[int], total: list[int]) -> None:
        """``add`` for buckets with strictly ascending, distinct ``ends``: the usual case,
        buckets newer than all kept ones (but maybe the last, which a batch boundary can
        split), is one ``add`` and three list extends."""
        fresh = bisect_right(ends, self.ends[-1]) if self.ends else 0
        for bucket in zip(ends[:fresh], matched[:fresh], total[:fresh], strict=True):
            self.add(*bucket)
        self.ends.extend(ends[fresh:])
        self.matched.extend(matched[fresh:])
        self.total.extend(total[fresh:])
        self.first_seen = min(self.first_seen, ends[0])
        self.last_seen = max(self.last_seen, ends[-1])

    def matched_at(self, end: int) -> int:
        """Matched count of the bucket ending exactly at ``end`` (0 if none)."""
        i = bisect_left(self.ends, end)
        return self.matched[i] if i < len(self.ends) and self.ends[i] == end else 0

    def prune(self, before: int, horizon_us: int) -> None:
        """Drop buckets ending at or before ``before`` (no window can see them any more).
        When more than ``horizon_us`` separates the last dropped bucket from the first kept
        one, the group was forgotten in between: it is known only since that bucket."""
        cut = bisect_right(self.ends, before)
        if cut:
            if cut < len(self.ends) and self.ends[cut] - self.ends[cut - 1] > horizon_us:
                self.first_seen = self.ends[cut]
            del self.ends[:cut], self.matched[:cut], self.total[:cut]


def count_window(group: Group, at: int, length: int) -> tuple[int, int]:
    """(matched, total) of buckets ending in ``(at - length, at]``."""
    lo = bisect_right(group.ends, at - length)
    hi = bisect_right(group.ends, at)
    return sum(group.matched[lo:hi]), sum(group.total[lo:hi])


class WindowSums:
    """Window sums of one group's buckets, for one evaluation pass: prefix sums made once,
    so each instant costs two bisects instead of summing its whole window again. The
    group's buckets must not change while it is in use."""

    __slots__ = ("ends", "matched", "total")

    def __init__(self, group: Group) -> None:
        self.ends = group.ends
        self.matched = [0, *accumulate(group.matched)]
        self.total = [0, *accumulate(group.total)]

    def count(self, at: int, length: int) -> tuple[int, int]:
        """(matched, total) of buckets ending in ``(at - length, at]``."""
        lo = bisect_right(self.ends, at - length)
        hi = bisect_right(self.ends, at)
        return self.matched[hi] - self.matched[lo], self.total[hi] - self.total[lo]


def _known_since(group: Group, at: int, since: int, horizon_us: int) -> bool:
    """Whether the group has been known without a break since ``since`` (as of ``at``).

    A group whose buckets all fell out of the horizon is forgotten (and starts afresh when it
    shows up again); a gap longer than the horizon counts as that break even when no
    watermark passed during it, so the decision does not depend on how often event time was
    advanced (replay in one go and live in small steps agree)."""
    if group.first_seen > since:
        return False
    i = bisect_right(group.ends, at) - 1
    while i > 0 and group.ends[i] > since:
        if group.ends[i] - group.ends[i - 1] > horizon_us:
            return False
        i -= 1
    return True


def condition(c: CompiledRule, group: Group, at: int, sums: WindowSums) -> tuple[bool, float, int]:
    """(holds, value, matched in window) of the rule for ``group`` at instant ``at``."""
    rule = c.rule
    matched, total = sums.count(at, c.window_us)
    if isinstance(rule, ThresholdRule):
        return matched >= rule.threshold, float(matched), matched
    if isinstance(rule, RatioRule):
        ratio = matched / total if total else 0.0
        return total >= rule.min_total and ratio >= rule.ratio, ratio, matched
    if isinstance(rule, AbsenceRule):
        return group.first_seen <= at and matched == 0, float(matched), matched
    if isinstance(rule, SpikeRule):
        baseline_us = int(rule.baseline.total_seconds() * 1e6)
        if not _known_since(group, at, at - c.window_us - baseline_us, c.horizon_us):
            return False, 0.0, matched
        before, _ = sums.count(at - c.window_us, baseline_us)
        per_window = max(before * c.window_us / baseline_us, rule.min_baseline)
        factor = matched / per_window
        return matched >= rule.min_events and factor >= rule.factor, factor, matched
    assert isinstance(rule, NewValueRule)
    novel = group.novel_since
    holds = novel is not None and novel <= at < novel + c.window_us
    return holds, float(matched), matched


def advance_group(
    c: CompiledRule, group: Group, previous: int, now: int, out: list[AlertTransition]
) -> None:
    """Run ``group``'s state machine over ``(previous, now]``, appending transitions."""
    instants: set[int] = set()
    for offset in c.offsets:
        lo = bisect_right(group.ends, previous - offset)
        hi = bisect_right(group.ends, now - offset)
        instants.update(end + offset for end in group.ends[lo:hi])
    if group.late:
        # late records: judge them at the first bucket boundary after what was evaluated,
        # so a late burst still fires (its start is when it was noticed, not its events)
        instants.add(min(now, (previous // c.step_us + 1) * c.step_us))
        group.late = False
    sums = WindowSums(group)
    for at in sorted(instants):
        _deadlines(c, group, at, out)
        _apply(c, group, at, sums, out)
    _deadlines(c, group, now, out)


def _deadlines(c: CompiledRule, group: Group, upto: int, out: list[AlertTransition]) -> None:
    if group.phase == "pending" and group.since + c.for_us <= upto:
        _fire(c, group, group.since + c.for_us, out)
    if (
        group.phase == "firing"
        and group.quiet_since is not None
        and group.quiet_since + c.quiet_us <= upto
    ):
        _resolve(c, group, group.quiet_since + c.quiet_us, group.quiet_since, out)


def _apply(
    c: CompiledRule, group: Group, at: int, sums: WindowSums, out: list[AlertTransition]
) -> None:
    holds, value, in_window = condition(c, group, at, sums)
    entering = group.matched_at(at)
    if holds:
        group.value = value
        if group.phase == "idle":
            group.phase, group.since, group.events = "pending", at, in_window
            if c.for_us == 0:
                _fire(c, group, at, out)
            return
        group.events += entering
        group.quiet_since = None
        return
    if group.phase == "pending":
        group.phase = "idle"
    elif group.phase == "firing":
        group.events += entering
        if group.quiet_since is None:
            group.quiet_since = at
            if c.quiet_us == 0:
                _resolve(c, group, at, at, out)


def resolve_now(c: CompiledRule, group: Group, now: int, out: list[AlertTransition]) -> None:
    """Resolve a firing group that is being forgotten (absence ``forget_after``)."""
    if group.phase == "firing":
        _resolve(c, group, now, group.quiet_since or now, out)


def _fire(c: CompiledRule, group: Group, at: int, out: list[AlertTransition]) -> None:
    group.phase = "firing"
    out.append(_transition(c, group, "firing", at, None))


def _resolve(c: CompiledRule, group: Group, at: int, ends: int, out: list[AlertTransition]) -> None:
    out.append(_transition(c, group, "resolved", at, ends))
    group.phase, group.quiet_since, group.events = "idle", None, 0
    group.sample = None


def _transition(
    c: CompiledRule, group: Group, status: Literal["firing", "resolved"], at: int, ends: int | None
) -> AlertTransition:
    rule = c.rule
    group_labels = {k: v for k, v in zip(c.label_names, group.key, strict=True) if v != ""}
    labels = {"alertname": rule.name, "severity": rule.severity, **c.static_labels, **group_labels}
    starts_at = _dt(group.since)
    ends_at = None if ends is None else _dt(ends)
    values = {
        "rule": rule.name,
        "severity": rule.severity,
        "value": _number(group.value),
        "events": str(group.events),
        "window": c.window_text(),
        "threshold": c.threshold_text(),
        "starts_at": _iso(starts_at),
        "ends_at": "" if ends_at is None else _iso(ends_at),
        **{f"labels.{k}": v for k, v in labels.items()},
    }
    annotations = {k: t.render(values) for k, t in c.templates.items()}
    annotations.setdefault("summary", rule.description or f"{rule.name}: {c.threshold_text()}")
    return AlertTransition(
        rule=rule.name,
        status=status,
        severity=rule.severity,
        group_labels=group_labels,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        at=_dt(at),
        events=group.events,
        value=group.value,
        sample=dict(group.sample or {}),
    )


def _dt(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3g}"
