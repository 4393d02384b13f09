"""The alert lifecycle: from engine transitions to grouped, deduplicated notifications.

- **Fingerprint**: a stable hash of the alert's labels (``alertname`` included); the same
  rule and group always give the same fingerprint, and PagerDuty's ``dedup_key`` derives
  from it.
- **Dedupe**: a firing transition for an alert already firing updates it in place.
- **Grouping**: each route sends an alert into the aggregation group of (receiver, values of
  the route's ``group_by`` labels). A new group is flushed ``group_wait`` after its first
  alert, then every ``group_interval``. A flush sends one firing notification (all visible
  firing alerts of the group) when an alert not yet notified is firing, or
  ``repeat_interval`` has passed since the last one; and one resolved notification with the
  alerts that resolved since and had been notified firing. An alert that fires and resolves
  between two flushes is never sent.
- **Silences and inhibition** are evaluated at flush time: a muted alert is left out (and
  its resolve is not sent unless its firing was); when the mute ends while it still fires,
  it counts as new and is sent at the next flush.

Timers run on the given ``now`` (the Clock): wall time live, event time in replay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from logwatch.alerts.inhibit import InhibitRule, inhibited
from logwatch.alerts.model import Alert, Notification
from logwatch.alerts.routing import Route, RouteTree

Muter = Callable[[Mapping[str, str], datetime], bool]


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable across processes and versions: sha256 of the sorted labels, 16 hex digits."""
    return hashlib.sha256(orjson.dumps(sorted(labels.items()))).hexdigest()[:16]


@dataclass
class AggregationGroup:
    key: str
    receiver: str
    labels: dict[str, str]
    route: Route
    next_flush: datetime
    members: dict[str, Alert] = field(default_factory=dict)  # fingerprint -> latest alert
    notified: set[str] = field(default_factory=set)  # fingerprints sent as firing
    last_firing_sent: datetime | None = None


@dataclass
class LifecycleStats:
    notifications: int = 0
    duplicate_firing: int = 0
    unknown_resolved: int = 0
    muted_silenced: int = 0
    muted_inhibited: int = 0


class AlertLifecycle:
    """Dedupe, group, mute and route alerts; ``flush_due(now)`` returns notifications."""

    def __init__(
        self,
        routes: RouteTree,
        inhibit_rules: tuple[InhibitRule, ...] = (),
        silenced: Muter | None = None,
    ) -> None:
        self._routes = routes
        self._inhibit = inhibit_rules
        self._silenced = silenced
        self._firing: dict[str, Alert] = {}
        self._groups: dict[str, AggregationGroup] = {}
        self.stats = LifecycleStats()

    def firing(self) -> list[Alert]:
        return list(self._firing.values())

    def groups(self) -> list[AggregationGroup]:
        return list(self._groups.values())

    def ingest(self, alert: Alert, now: datetime) -> None:
        """Take one alert state change (firing or resolved)."""
        if alert.status == "firing":
            if alert.fingerprint in self._firing:
                self.stats.duplicate_firing += 1
            self._firing[alert.fingerprint] = alert
        else:
            if self._firing.pop(alert.fingerprint, None) is None:
                self.stats.unknown_resolved += 1
                return
        for route in self._routes.routes_for(alert.labels):
            group = self._group_for(route, alert.labels, now)
            group.members[alert.fingerprint] = alert

    def _group_for(
        self, route: Route, labels: Mapping[str, str], now: datetime
    ) -> AggregationGroup:
        group_labels = {name: labels[name] for name in route.group_by if labels.get(name)}
        key = f"{route.receiver}:" + orjson.dumps(sorted(group_labels.items())).decode()
        group = self._groups.get(key)
        if group is None:
            group = AggregationGroup(
                key, route.receiver, group_labels, route, now + route.group_wait
            )
            self._groups[key] = group
        return group

    def next_due(self) -> datetime | None:
        return min((g.next_flush for g in self._groups.values()), default=None)

    def flush_due(self, now: datetime) -> list[Notification]:
        """Flush every group whose timer is due at ``now``, in group-key order."""
        out: list[Notification] = []
        for key in sorted(self._groups):
            group = self._groups[key]
            if group.next_flush <= now:
                out.extend(self._flush(group, now))
                if group.members:
                    group.next_flush = now + group.route.group_interval
                else:
                    del self._groups[key]
        self.stats.notifications += len(out)
        return out

    def _muted(self, alert: Alert, now: datetime) -> bool:
        if self._silenced is not None and self._silenced(alert.labels, now):
            self.stats.muted_silenced += 1
            return True
        sources = [a.labels for a in self._firing.values() if a.fingerprint != alert.fingerprint]
        if self._inhibit and inhibited(alert.labels, sources, self._inhibit):
            self.stats.muted_inhibited += 1
            return True
        return False

    def _flush(self, group: AggregationGroup, now: datetime) -> list[Notification]:
        firing: list[Alert] = []
        resolved: list[Alert] = []
        for fp, alert in list(group.members.items()):
            if alert.status == "resolved":
                if fp in group.notified:
                    resolved.append(alert)
                    group.notified.discard(fp)
                del group.members[fp]
            elif not self._muted(alert, now):
                firing.append(alert)
        out = []
        new = any(a.fingerprint not in group.notified for a in firing)
        repeat = (
            group.last_firing_sent is not None
            and now - group.last_firing_sent >= group.route.repeat_interval
        )
        if firing and (new or repeat):
            out.append(self._notification(group, "firing", firing, now))
            group.notified.update(a.fingerprint for a in firing)
            group.last_firing_sent = now
        if resolved:
            out.append(self._notification(group, "resolved", resolved, now))
        return out

    def _notification(
        self, group: AggregationGroup, status: str, alerts: list[Alert], now: datetime
    ) -> Notification:
        ordered = tuple(sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint)))
        return Notification(
            receiver=group.receiver,
            group_key=group.key,
            status="firing" if status == "firing" else "resolved",
            alerts=ordered,
            group_labels=dict(group.labels),
            created_at=now,
        )

    def dump(self) -> dict[str, Any]:
        """JSON-shaped state for checkpoints (see ``load``)."""
        return {
            "firing": [a.to_json() for a in self._firing.values()],
            "groups": [
                {
                    "key": g.key,
                    "receiver": g.receiver,
                    "labels": g.labels,
                    "route_receiver": g.route.receiver,
                    "next_flush": g.next_flush.isoformat(),
                    "members": [a.to_json() for a in g.members.values()],
                    "notified": sorted(g.notified),
                    "last_firing_sent": g.last_firing_sent.isoformat()
                    if g.last_firing_sent
                    else None,
                }
                for g in self._groups.values()
            ],
        }

    def load(self, raw: Mapping[str, Any]) -> None:
        """Restore ``dump()`` output; groups of receivers no longer routed are dropped."""
        self._firing = {a.fingerprint: a for a in (Alert.from_json(x) for x in raw["firing"])}
        self._groups = {}
        routes = {r.receiver: r for r in (self._routes.root, *self._routes.children)}
        for g in raw["groups"]:
            route = routes.get(g["route_receiver"])
            if route is None:
                continue
            last = g["last_firing_sent"]
            group = AggregationGroup(
                key=g["key"],
                receiver=g["receiver"],
                labels=dict(g["labels"]),
                route=route,
                next_flush=datetime.fromisoformat(g["next_flush"]),
                members={a.fingerprint: a for a in (Alert.from_json(x) for x in g["members"])},
                notified=set(g["notified"]),
                last_firing_sent=None if last is None else datetime.fromisoformat(last),
            )
            self._groups[group.key] = group
