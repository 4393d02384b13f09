from __future__ import annotations

import pytest

from rules.engine import RuleEngine
from rules.model import load_rules
from tests.rules.factories import at, batch, rl

RULES = """
rules:
  - name: RL
    kind: threshold
    where: {signals: rate_limited}
    group_by: [route_name]
    window: 1m
    threshold: 3
  - name: New
    kind: new_value
    where: {signals: rate_limited}
    group_by: [route_name]
    learning_period: 0s
"""


def test_restore_continues_exactly_where_the_snapshot_left_off() -> None:
    records = [batch(rl(0), rl(1)), batch(rl(2), rl(3, "b")), batch(rl(100, "b"))]
    marks = [at(1.5), at(30), at(400)]
    straight = RuleEngine(load_rules(RULES))
    expected = []
    for frame, mark in zip(records, marks, strict=True):
        straight.observe(frame)
        expected.extend(straight.advance(mark))
    got = []
    engine = RuleEngine(load_rules(RULES))
    for frame, mark in zip(records, marks, strict=True):
        engine.observe(frame)
        got.extend(engine.advance(mark))
        restored = RuleEngine(load_rules(RULES))
        restored.restore(engine.snapshot())
        engine = restored
    assert [(t.rule, t.status, t.labels, t.starts_at, t.ends_at) for t in got] == [
        (t.rule, t.status, t.labels, t.starts_at, t.ends_at) for t in expected
    ]
    assert len(expected) >= 4


def test_changed_rule_starts_afresh() -> None:
    engine = RuleEngine(load_rules(RULES))
    engine.observe(batch(rl(0), rl(1)))
    changed = RuleEngine(load_rules(RULES.replace("threshold: 3", "threshold: 2")))
    changed.restore(engine.snapshot())
    assert changed.window_count("RL", ("r1",)) == 0
    same = RuleEngine(load_rules(RULES))
    same.restore(engine.snapshot())
    same.advance(at(10))
    assert same.window_count("RL", ("r1",)) == 2


@pytest.mark.parametrize("data", [b"", b"{}", b"[1]", b'{"version": 99}', b"\xff"])
def test_corrupt_snapshot_is_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        RuleEngine(load_rules(RULES)).restore(data)


def test_reload_keeps_unchanged_rules_and_resolves_what_changed_or_went() -> None:
    engine = RuleEngine(load_rules(RULES))
    engine.observe(batch(rl(0), rl(1), rl(2), rl(3, "b")))
    fired = engine.advance(at(10))
    assert {(t.rule, t.status) for t in fired} == {("RL", "firing"), ("New", "firing")}
    # RL changes (threshold), New goes, Burst comes
    reloaded = RULES.replace("threshold: 3", "threshold: 4").split("  - name: New")[0] + (
        "  - name: Burst\n    kind: threshold\n    where: {signals: rate_limited}\n"
        "    window: 1m\n    threshold: 2\n"
    )
    fresh, resolved = engine.reloaded(load_rules(reloaded))
    assert sorted((t.rule, t.status, t.labels["route_name"]) for t in resolved) == [
        ("New", "resolved", "b"),
        ("New", "resolved", "r1"),
        ("RL", "resolved", "r1"),
    ]
    assert all(t.ends_at is not None and t.ends_at <= at(10) for t in resolved)
    assert [r.name for r in fresh.rules] == ["RL", "Burst"]
    assert fresh.firing() == [] and fresh.watermark == at(10)
    # the new rules count from here on
    fresh.observe(batch(rl(11), rl(12)))
    assert {(t.rule, t.status) for t in fresh.advance(at(20))} == {("Burst", "firing")}

    # an unchanged rule goes on: still firing, no second "firing" transition
    same, resolved = engine.reloaded(load_rules(RULES))
    assert resolved == []
    assert sorted(rule for rule, *_ in same.firing()) == ["New", "New", "RL"]
    same.observe(batch(rl(11)))
    assert [t for t in same.advance(at(20)) if t.status == "firing"] == []
