"""Replay and live must decide alike: the alerts may not depend on how records are batched
or how often the watermark moves."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import RuleEngine
from rules.model import load_rules
from tests.rules.factories import at, batch, rl

RULES = """
rules:
  - name: RL
    kind: threshold
    where: {signals: rate_limited}
    group_by: [route_name]
    window: 30s
    threshold: 3
    for: 5s
    resolve_after: 20s
  - name: Errors
    kind: ratio
    where: {kind: envoy}
    matching: {signals: rate_limited}
    window: 1m
    ratio: 0.5
    min_total: 4
  - name: Spike
    kind: spike
    where: {signals: rate_limited}
    window: 10s
    baseline: 1m
    factor: 3
    min_events: 3
"""

records = st.lists(
    st.tuples(st.integers(0, 600), st.sampled_from(["a", "b"]), st.booleans()),
    min_size=1,
    max_size=120,
)


def row(t: int, route: str, limited: bool) -> dict[str, object]:
    return rl(t, route) if limited else {"t": t, "route_name": route}


def decisions(engine: RuleEngine, transitions: list) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    return [
        (t.rule, t.status, t.labels.get("route_name"), t.starts_at, t.ends_at, t.at)
        for t in transitions
    ]


@settings(max_examples=60, deadline=None, database=None)
@given(records=records, cuts=st.lists(st.integers(1, 119), max_size=8))
def test_batching_does_not_change_decisions(
    records: list[tuple[int, str, bool]], cuts: list[int]
) -> None:
    ordered = sorted(records)
    whole = RuleEngine(load_rules(RULES))
    whole.observe(batch(*(row(*r) for r in ordered)))
    expected = whole.advance(at(2000))

    pieces = RuleEngine(load_rules(RULES))
    got = []
    bounds = sorted({c for c in cuts if c < len(ordered)} | {0, len(ordered)})
    for lo, hi in itertools.pairwise(bounds):
        part = ordered[lo:hi]
        pieces.observe(batch(*(row(*r) for r in part)))
        # the watermark may only pass what every later record is at or after
        got.extend(pieces.advance(at(part[-1][0])))
    got.extend(pieces.advance(at(2000)))
    assert decisions(pieces, got) == decisions(whole, expected)
    assert pieces.stats.late_records == 0


def test_a_spike_after_a_long_silence_is_judged_alike_in_one_go_and_in_steps() -> None:
    """A group silent for longer than the rule's horizon is forgotten whether or not a
    watermark passed during the silence, so replay and live decide the burst alike."""
    early = [(0, "a", False)]
    burst = [(306, "a", True), (306, "a", True), (307, "a", True)]
    whole = RuleEngine(load_rules(RULES))
    whole.observe(batch(*(row(*r) for r in early + burst)))
    expected = decisions(whole, whole.advance(at(2000)))

    stepped = RuleEngine(load_rules(RULES))
    stepped.observe(batch(*(row(*r) for r in early)))
    got = stepped.advance(at(0))
    stepped.observe(batch(*(row(*r) for r in burst)))
    got += stepped.advance(at(306))
    got += stepped.advance(at(2000))
    assert decisions(stepped, got) == expected
    assert all(rule != "Spike" for rule, *_ in expected)  # no warm baseline after a gap
