"""Configuration of logwatch.alerts, validated once at load (see logwatch.config).

Example::

    alerts:
      rule_files: [/etc/logwatch/rules/*.yaml]
      use_builtin_pack: true
      disabled_rules: [LogsStopped]
      receiver: console                 # where alerts go when no route matches
      group_by: [alertname]
      group_wait: 10s
      group_interval: 1m
      repeat_interval: 4h
      routes:                           # first match wins unless `continue: true`
        - matchers: ["severity=critical"]
          receiver: oncall
          continue: true
        - matchers: ["alertname=~RateLimit.*"]
          receiver: team-chat
          group_by: [alertname, route_name]
      inhibit_rules:
        - source_matchers: ["alertname=CircuitBreakerOpen"]
          target_matchers: ["alertname=HighErrorRatio"]
          equal: [upstream_cluster]
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from logwatch.alerts.matchers import parse_matchers
from rules.durations import parse_duration


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _positive_interval(value: timedelta | None) -> timedelta | None:
    # a zero interval would re-flush a group forever at the same instant
    if value is not None and value <= timedelta(0):
        raise ValueError("must be greater than 0")
    return value


def _matchers(value: tuple[str, ...]) -> tuple[str, ...]:
    parse_matchers(value)
    return value


class RouteConfig(BaseModel):
    """Alerts whose labels match every matcher go to ``receiver``; unset timings and
    ``group_by`` are inherited from the top level."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # the receiver (notifiers.receivers[].name) of matching alerts
    receiver: str = Field(min_length=1)
    # label matchers, all must match: name=value, name!=value, name=~regex, name!~regex
    matchers: tuple[str, ...] = ()
    # also try the routes after this one
    continue_: bool = Field(default=False, alias="continue")
    # labels that make one notification group (inherits alerts.group_by)
    group_by: tuple[str, ...] | None = None
    # wait this long to batch a new group's first notification (inherits)
    group_wait: Duration | None = None
    # least time between two notifications of one group (inherits)
    group_interval: Duration | None = None
    # re-notify a still-firing group this often (inherits)
    repeat_interval: Duration | None = None

    _check = field_validator("matchers")(_matchers)
    _positive = field_validator("group_interval", "repeat_interval")(_positive_interval)


class InhibitRuleConfig(BaseModel):
    """While an alert matching ``source_matchers`` fires, alerts matching
    ``target_matchers`` with the same values of the ``equal`` labels are not notified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # while an alert matching these fires ...
    source_matchers: tuple[str, ...]
    # ... alerts matching these are not notified ...
    target_matchers: tuple[str, ...]
    # ... when they have the same values of these labels
    equal: tuple[str, ...] = ()

    _check = field_validator("source_matchers", "target_matchers")(_matchers)


def _default_inhibitions() -> tuple[InhibitRuleConfig, ...]:
    # An open circuit breaker explains the 5xx of its cluster: page for the cause only.
    return (
        InhibitRuleConfig(
            source_matchers=("alertname=CircuitBreakerOpen",),
            target_matchers=("alertname=HighErrorRatio",),
            equal=("upstream_cluster",),
        ),
        InhibitRuleConfig(
            source_matchers=("alertname=NoHealthyUpstream",),
            target_matchers=("alertname=HighErrorRatio",),
            equal=("upstream_cluster",),
        ),
    )


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # evaluate alert rules at all
    enabled: bool = True
    rule_files: tuple[str, ...] = ()  # paths or glob patterns of rule YAML files
    # load the built-in rules (rules/pack/)
    use_builtin_pack: bool = True
    # rule names to turn off (built-in or not)
    disabled_rules: tuple[str, ...] = ()
    # receiver of alerts that no route matches
    receiver: str = "console"
    # labels that make one notification group
    group_by: tuple[str, ...] = ("alertname",)
    # wait this long to batch a new group's first notification
    group_wait: Duration = timedelta(seconds=10)
    # least time between two notifications of one group
    group_interval: Duration = timedelta(minutes=1)
    # re-notify a still-firing group this often
    repeat_interval: Duration = timedelta(hours=4)
    # routing tree, first match wins unless continue is set
    routes: tuple[RouteConfig, ...] = ()
    # suppress alerts that a firing cause explains (default: an open circuit breaker or no
    # healthy upstream inhibits HighErrorRatio on the same cluster)
    inhibit_rules: tuple[InhibitRuleConfig, ...] = Field(default_factory=_default_inhibitions)
    silences_file: str = "silences.json"  # relative to the state dir
    state_file: str = "alerts-state.json"  # relative to the state dir
    # base of each alert's generatorURL (``<external_url>/rules/<rule>``)
    external_url: str = "http://localhost:8686"
    # alerts kept for the replay report
    max_report_alerts: int = Field(default=10_000, ge=1)

    _positive = field_validator("group_interval", "repeat_interval")(_positive_interval)
