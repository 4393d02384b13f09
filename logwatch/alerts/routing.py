"""Routing: which receivers get an alert, grouped how, with which timings.

A simplified Alertmanager route tree: one root (the defaults) with an ordered list of child
routes. The first matching child takes the alert; ``continue: true`` lets matching go on to
later children. When no child matches, the root's receiver takes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.matchers import Matcher, all_match, parse_matchers


@dataclass(frozen=True, slots=True)
class Route:
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


class RouteTree:
    def __init__(self, config: AlertsConfig) -> None:
        self.root = Route(
            receiver=config.receiver,
            matchers=(),
            continue_=False,
            group_by=config.group_by,
            group_wait=config.group_wait,
            group_interval=config.group_interval,
            repeat_interval=config.repeat_interval,
        )
        self.children = tuple(
            Route(
                receiver=child.receiver,
                matchers=parse_matchers(child.matchers),
                continue_=child.continue_,
                group_by=child.group_by if child.group_by is not None else self.root.group_by,
                group_wait=_or(child.group_wait, self.root.group_wait),
                group_interval=_or(child.group_interval, self.root.group_interval),
                repeat_interval=_or(child.repeat_interval, self.root.repeat_interval),
            )
            for child in config.routes
        )

    def routes_for(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` takes (never empty)."""
        out = []
        for child in self.children:
            if all_match(child.matchers, labels):
                out.append(child)
                if not child.continue_:
                    break
        return out or [self.root]

    def receivers(self) -> set[str]:
        return {self.root.receiver, *(c.receiver for c in self.children)}


def _or(value: timedelta | None, default: timedelta) -> timedelta:
    return default if value is None else value
