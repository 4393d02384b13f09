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
