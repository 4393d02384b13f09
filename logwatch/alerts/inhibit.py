"""Inhibition: a firing cause mutes the alerts it explains (Alertmanager semantics)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from logwatch.alerts.config import InhibitRuleConfig
from logwatch.alerts.matchers import Matcher, all_match, parse_matchers


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, config: InhibitRuleConfig) -> InhibitRule:
        return cls(
            parse_matchers(config.source_matchers),
            parse_matchers(config.target_matchers),
            config.equal,
        )


def inhibited(
    labels: Mapping[str, str],
    firing: Iterable[Mapping[str, str]],
    rules: Iterable[InhibitRule],
) -> bool:
    """True when ``labels`` match a rule's target while some firing alert (other than one
    with the very same labels) matches its source with equal values of ``equal``."""
    firing = list(firing)
    for rule in rules:
        if not all_match(rule.target, labels):
            continue
        for source in firing:
            if source is labels or dict(source) == dict(labels):
                continue
            if all_match(rule.source, source) and all(
                source.get(name, "") == labels.get(name, "") for name in rule.equal
            ):
                return True
    return False
