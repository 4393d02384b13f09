from __future__ import annotations

import pytest

from rules.model import RuleError, load_rules
from rules.template import parse_template


def test_renders_whitelisted_fields_and_literal_braces() -> None:
    template = (
        parse_template("{{x}} {labels.route} saw {events} ({value}) {missing_ok}", ["route"])
        if False
        else parse_template("{{x}} {labels.route} saw {events} ({value})", ["route"])
    )
    assert (
        template.render({"labels.route": "r1", "events": "3", "value": "2.5"})
        == "{x} r1 saw 3 (2.5)"
    )


def test_values_are_not_interpreted_again() -> None:
    template = parse_template("{labels.route}", ["route"])
    assert template.render({"labels.route": "{events} {0.__class__}"}) == "{events} {0.__class__}"


@pytest.mark.parametrize(
    "text",
    [
        "{value.__class__}",
        "{labels.route.__class__.__mro__}",
        "{0}",
        "{}",
        "{events!r}",
        "{value:>10}",
        "{labels[route]}",
        "{__import__('os')}",
        "{labels.unknown}",
        "unbalanced {",
    ],
)
def test_unsafe_or_unknown_fields_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_template(text, ["route"])


def test_rule_load_rejects_bad_template_naming_file_rule_and_field() -> None:
    text = """
rules:
  - name: Bad
    kind: threshold
    threshold: 1
    group_by: [route_name]
    annotations: {summary: "{labels.route_name.upper}"}
"""
    with pytest.raises(RuleError, match=r"my\.yaml: rule 'Bad': annotations\.summary"):
        load_rules(text, "my.yaml")
