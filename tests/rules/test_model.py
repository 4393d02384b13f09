from __future__ import annotations

from datetime import timedelta

import pytest

from rules.durations import format_duration, parse_duration
from rules.model import RuleError, ThresholdRule, load_rules, merge_rule_sets


def test_valid_rule_loads_with_defaults() -> None:
    (rule,) = load_rules("rules:\n  - {name: A, kind: threshold, threshold: 2, window: 5m}\n")
    assert isinstance(rule, ThresholdRule)
    assert rule.window == timedelta(minutes=5)
    assert rule.quiet_period() == timedelta(minutes=5)
    assert rule.step() == timedelta(seconds=5)
    assert "threshold >= 2 records in 5m" in rule.summary()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {name: A, kind: threshold}", r"f\.yaml: rule 'A': threshold: Field required"),
        ("  - {name: A, kind: bogus}", r"rule 'A': .*'threshold'"),
        (
            "  - {name: A, kind: threshold, threshold: 1, window: 5 minutes}",
            r"rule 'A': window: .*not a duration",
        ),
        (
            "  - {name: A, kind: threshold, threshold: 1, colour: red}",
            r"rule 'A': colour: Extra inputs",
        ),
        ("  - {name: A, kind: ratio, ratio: 2, matching: {}}", r"rule 'A': ratio: "),
        (
            "  - {name: A, kind: spike, factor: 2, window: 1h, baseline: 5m}",
            "baseline must be at least",
        ),
        ("  - {name: A, kind: new_value}", "new_value needs group_by"),
        ("  - {name: A, kind: threshold, threshold: 1, group_by: [signals]}", "list field"),
        ("  - {kind: threshold, threshold: 1}", r"rule #1: name: Field required"),
        (
            "  - {name: A, kind: threshold, threshold: 1, source: malformed, where: {route_name: x}}",
            "unknown field 'route_name'",
        ),
    ],
)
def test_errors_name_file_rule_and_field(body: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        load_rules("rules:\n" + body + "\n", "f.yaml")


def test_all_problems_are_reported_at_once() -> None:
    text = "rules:\n  - {name: A, kind: threshold}\n  - {name: B, kind: threshold}\n"
    with pytest.raises(RuleError) as info:
        load_rules(text, "f.yaml")
    assert len(str(info.value).splitlines()) == 2


def test_duplicate_names_rejected_within_and_across_files() -> None:
    one = "rules:\n  - {name: A, kind: threshold, threshold: 1}\n"
    with pytest.raises(RuleError, match="defined twice"):
        load_rules(one + "  - {name: A, kind: threshold, threshold: 1}\n", "f.yaml")
    with pytest.raises(RuleError, match=r"already defined in a\.yaml"):
        merge_rule_sets([("a.yaml", load_rules(one)), ("b.yaml", load_rules(one))])


@pytest.mark.parametrize("text", ["rules: 3", "- a\n- b", "rules: [", "other: []"])
def test_malformed_documents(text: str) -> None:
    with pytest.raises(RuleError, match=r"^f\.yaml: "):
        load_rules(text, "f.yaml")


def test_durations_round_trip() -> None:
    for text in ["250ms", "30s", "5m", "1h30m", "2d"]:
        assert format_duration(parse_duration(text)) == text
    with pytest.raises(ValueError):
        parse_duration("-5s")
    with pytest.raises(ValueError):
        parse_duration("5 m")
