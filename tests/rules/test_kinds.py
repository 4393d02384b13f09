from __future__ import annotations

from datetime import timedelta

from rules.engine import RuleEngine
from rules.model import load_rules
from tests.rules.factories import T0, at, batch, rl


def engine(yaml_rule: str) -> RuleEngine:
    return RuleEngine(load_rules("rules:\n" + yaml_rule))


THRESHOLD = """
  - name: RL
    kind: threshold
    where: {signals: rate_limited}
    group_by: [route_name]
    window: 1m
    threshold: 3
    resolve_after: 2m
    annotations: {summary: "{labels.route_name}: {value} in {window}, {events} events"}
"""


def test_threshold_fires_at_the_nth_record_and_resolves_after_quiet() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(rl(0), rl(10)))
    assert e.advance(at(15)) == []
    e.observe(batch(rl(20), rl(30)))
    fired = e.advance(at(40))
    assert [t.status for t in fired] == ["firing"]
    assert fired[0].starts_at == at(21)  # bucket holding the third record ends at 21 s
    assert fired[0].labels == {"alertname": "RL", "severity": "warning", "route_name": "r1"}
    assert fired[0].annotations["summary"] == "r1: 3 in 1m, 3 events"
    # window drops below 3 at 71 s (record at 10 s leaves); quiet for 2m -> resolved at 191 s
    assert e.advance(at(190)) == []
    resolved = e.advance(at(200))
    assert [(t.status, t.ends_at, t.at, t.events) for t in resolved] == [
        ("resolved", at(71), at(191), 4)
    ]


def test_threshold_below_n_never_fires() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(rl(0), rl(61), rl(122), rl(183)))
    assert e.advance(at(1000)) == []


def test_for_requires_the_condition_to_hold_that_long() -> None:
    e = engine(THRESHOLD.replace("resolve_after: 2m", "resolve_after: 2m\n    for: 30s"))
    e.observe(batch(rl(0), rl(1), rl(2)))  # holds from 3 s to 61 s
    assert e.advance(at(32)) == []
    fired = e.advance(at(33))
    assert [(t.status, t.starts_at, t.at) for t in fired] == [("firing", at(3), at(33))]


def test_for_not_reached_when_condition_stops_first() -> None:
    e = engine(THRESHOLD.replace("resolve_after: 2m", "resolve_after: 2m\n    for: 2m"))
    e.observe(batch(rl(0), rl(1), rl(2)))
    assert e.advance(at(600)) == []


def test_activity_during_quiet_period_keeps_alert_firing() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(rl(0), rl(1), rl(2)))
    assert [t.status for t in e.advance(at(10))] == ["firing"]
    # condition false from 61 s; back at 150 s (3 records) before the 2m quiet ends
    e.observe(batch(rl(150), rl(151), rl(152)))
    assert e.advance(at(170)) == []
    resolved = e.advance(at(1000))
    # the record at 150 s leaves the window at 211 s: two left, below the threshold
    assert [(t.status, t.ends_at) for t in resolved] == [("resolved", at(211))]
    assert resolved[0].events == 6


def test_group_by_separates_groups_and_null_labels_are_left_out() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(*[rl(i, "a") for i in range(3)], *[rl(i, "b") for i in range(2)]))
    e.observe(batch(*[{"t": i, "signals": ["rate_limited"]} for i in range(3)]))
    fired = e.advance(at(30))
    assert sorted(t.group_labels.get("route_name", "-") for t in fired) == ["-", "a"]


def test_groups_are_bounded_and_folded_records_counted() -> None:
    e = engine(THRESHOLD + "    max_groups: 2\n")
    e.observe(batch(*[rl(i, f"route-{i}") for i in range(10)]))
    assert e.describe()["RL"] == 3  # two groups + the overflow group
    assert e.stats.folded_records["RL"] == 8
    fired = e.advance(at(30))
    assert [t.group_labels for t in fired] == [{"route_name": "_other"}]


def test_idle_groups_and_old_buckets_are_dropped() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(*[rl(i, f"route-{i}") for i in range(50)]))
    e.advance(at(3600))
    assert e.describe()["RL"] == 0


def test_ratio_needs_minimum_volume_and_ratio() -> None:
    e = engine("""
  - name: Errors
    kind: ratio
    where: {kind: envoy}
    matching: {response_code: {gte: 500}}
    group_by: [route_name]
    window: 1m
    ratio: 0.5
    min_total: 4
""")
    # 2 of 3 fail: ratio high but volume too small
    e.observe(
        batch(
            {"t": 0, "route_name": "r", "response_code": 503},
            {"t": 1, "route_name": "r", "response_code": 503},
            {"t": 2, "route_name": "r", "response_code": 200},
        )
    )
    assert e.advance(at(20)) == []
    e.observe(batch({"t": 30, "route_name": "r", "response_code": 200}))
    fired = e.advance(at(40))  # 2 of 4: the volume is there now
    assert [(t.status, t.value, t.events, t.starts_at) for t in fired] == [
        ("firing", 0.5, 2, at(31))
    ]
    e.observe(batch(*[{"t": 40 + i, "route_name": "r", "response_code": 200} for i in range(4)]))
    resolved = e.advance(at(200))  # 2 of 5 once the record at 40 s counts
    assert [(t.status, t.ends_at) for t in resolved] == [("resolved", at(41))]


def test_absence_fires_when_a_known_group_goes_quiet_while_others_log() -> None:
    e = engine("""
  - name: Quiet
    kind: absence
    where: {kind: ztunnel}
    group_by: [pod]
    window: 1m
    resolve_after: 0s
""")
    e.observe(batch(*[{"t": i, "kind": "ztunnel", "pod": "ztunnel-a"} for i in range(0, 30, 5)]))
    e.observe(batch(*[{"t": i, "kind": "ztunnel", "pod": "ztunnel-b"} for i in range(0, 300, 5)]))
    fired = e.advance(at(290))
    assert [(t.status, t.group_labels, t.starts_at) for t in fired] == [
        ("firing", {"pod": "ztunnel-a"}, at(86))  # last bucket ended 26 s; + 1m window
    ]
    e.observe(batch({"t": 300, "kind": "ztunnel", "pod": "ztunnel-a"}))
    resolved = e.advance(at(302))
    assert [(t.status, t.ends_at) for t in resolved] == [("resolved", at(301))]


def test_absence_is_not_judged_past_the_latest_event() -> None:
    e = engine("""
  - name: Quiet
    kind: absence
    group_by: [pod]
    window: 1m
""")
    e.observe(batch({"t": 0, "pod": "a"}, {"t": 1, "pod": "b"}))
    assert e.advance(at(86400)) == []  # end of input: nobody else logged either


def test_spike_against_own_baseline() -> None:
    e = engine("""
  - name: Spike
    kind: spike
    where: {signals: rate_limited}
    window: 1m
    baseline: 10m
    factor: 5
    min_events: 10
""")
    # baseline: 2 per minute for 10 minutes, then 30 in one minute
    e.observe(batch(*[rl(t) for t in range(0, 600, 30)]))
    assert e.advance(at(630)) == []
    e.observe(batch(*[rl(630 + i) for i in range(30)]))
    fired = e.advance(at(700))
    assert [t.status for t in fired] == ["firing"]
    assert fired[0].value >= 5


def test_spike_needs_a_full_baseline_first() -> None:
    e = engine("""
  - name: Spike
    kind: spike
    window: 1m
    baseline: 10m
    factor: 3
""")
    e.observe(batch(*[{"t": i} for i in range(50)]))
    assert e.advance(at(100)) == []


def test_new_value_after_learning_period() -> None:
    e = engine("""
  - name: NewRoute
    kind: new_value
    where: {signals: rate_limited}
    group_by: [route_name]
    window: 1m
    learning_period: 5m
    resolve_after: 0s
""")
    e.observe(batch(rl(0, "old")))
    e.observe(batch(rl(400, "old"), rl(401, "fresh")))
    fired = e.advance(at(420))
    assert [(t.status, t.group_labels) for t in fired] == [("firing", {"route_name": "fresh"})]
    assert [t.status for t in e.advance(at(600))] == ["resolved"]
    e.observe(batch(rl(700, "fresh")))
    assert e.advance(at(800)) == []  # seen before now


def test_late_records_are_counted_and_judged_at_the_next_advance() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(rl(100)))
    assert e.advance(at(200)) == []
    e.observe(batch(rl(150), rl(160), rl(199.5)))  # all in buckets already evaluated
    assert e.stats.late_records == 3
    fired = e.advance(at(200.5))
    assert [(t.status, t.starts_at) for t in fired] == [("firing", at(200.5))]


def test_watermark_going_backwards_is_ignored() -> None:
    e = engine(THRESHOLD)
    e.observe(batch(rl(0), rl(1), rl(2)))
    assert len(e.advance(at(30))) == 1
    assert e.advance(at(10)) == []
    assert e.watermark == at(30)


def test_untimed_records_are_counted_and_ignored() -> None:
    e = engine(THRESHOLD)
    frame = batch(rl(0), rl(1), rl(2))
    frame = frame.with_columns(ts=frame["ts"].set(frame["ts"].is_not_null(), None))
    e.observe(frame)
    assert e.stats.untimed_records == 3
    assert e.advance(T0 + timedelta(minutes=5)) == []
