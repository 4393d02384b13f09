"""The alert stage: rules engine + lifecycle as a pipeline ``RecordStage``.

``on_records`` counts a batch, ``on_watermark`` evaluates the rules up to the watermark,
feeds state changes to the lifecycle and puts due notifications in the outbox (durable on
return), ``flush`` writes the engine snapshot and lifecycle state to the state dir,
atomically, before the pipeline checkpoints.

Time: alert start/end times are event time. Lifecycle timers (group_wait, group_interval,
repeat_interval, silences) read the Clock; when that clock is a ``ManualClock`` the stage
moves it to each watermark, so replay and backtests time notifications by event time.

Parse errors: the pipeline calls ``on_malformed(frame)`` with ``rules.model.MALFORMED_SCHEMA``
rows (see ``malformed_frame``); rules with ``source: malformed`` count them.

Failure modes: a failing outbox ``put`` or state write raises (the pipeline then commits
nothing). An unreadable state file at start is logged and set aside (``.corrupt``); an
unreadable silence file is logged and the last good silences stay in force.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson
import polars as pl

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.inhibit import InhibitRule
from logwatch.alerts.lifecycle import AlertLifecycle, fingerprint
from logwatch.alerts.model import Alert, Notification
from logwatch.alerts.routing import RouteTree
from logwatch.alerts.rulefiles import configured_rules
from logwatch.alerts.silences import Silence, SilenceError, SilenceStore
from logwatch.alerts.statefile import write_atomically
from logwatch.clock import Clock, ManualClock
from rules.engine import RuleEngine
from rules.model import AnyRule
from rules.transition import AlertTransition

log = logging.getLogger(__name__)
STATE_VERSION = 1
MAX_UNSENT = 10_000


@runtime_checkable
class NotificationSubmitter(Protocol):
    """The daemon's delivery service (``logwatch.notify.dispatcher.Dispatcher``): ``submit``
    stores durably in the outbox, then wakes the receiver's sender."""

    def submit(self, notification: Notification) -> str: ...


class DurableOutbox(Protocol):
    """The outbox itself (``logwatch.notify.outbox.Outbox``): durable on return."""

    def put(self, notification: Notification, now: float) -> tuple[str, bool]: ...


Outbox = NotificationSubmitter | DurableOutbox


class RequestPath(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class Correlator(Protocol):
    def path_for(self, request_id: str) -> RequestPath | None: ...


class AlertStage:
    def __init__(
        self,
        config: AlertsConfig,
        rules: list[AnyRule],
        *,
        clock: Clock,
        outbox: Outbox | None,
        correlator: Correlator | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.engine = RuleEngine(rules)
        self._clock = clock
        self._outbox = outbox
        self._correlator = correlator
        self._state_path = None if state_dir is None else state_dir / config.state_file
        self._silences = (
            None if state_dir is None else SilenceStore(state_dir / config.silences_file)
        )
        self._last_silences: tuple[Silence, ...] = ()
        self.lifecycle = AlertLifecycle(
            RouteTree(config),
            tuple(InhibitRule.from_config(r) for r in config.inhibit_rules),
            self._silenced,
        )
        self._history: dict[tuple[str, str], dict[str, Any]] = {}
        # notifications produced without an outbox (backtests), oldest first
        self.unsent: list[Notification] = []
        self.dropped_unsent = 0
        self._written = b""  # last state written by flush
        self._event_now = datetime(1970, 1, 1, tzinfo=UTC)  # lifecycle time in event-time mode
        self._restore()

    def on_records(self, records: pl.DataFrame) -> None:
        self.engine.observe(records)

    def on_aggregates(self, rule: str, aggregate: pl.DataFrame) -> None:
        """Counts of ``rule`` aggregated by another analyzer (``logwatch.kafka.signals``)."""
        self.engine.absorb(rule, aggregate)

    def on_malformed(self, rejections: pl.DataFrame) -> None:
        """Count parse rejections (``MALFORMED_SCHEMA``) for ``source: malformed`` rules."""
        self.engine.observe(rejections, source="malformed")

    def on_watermark(self, watermark: datetime) -> None:
        transitions = self.engine.advance(watermark)
        if not isinstance(self._clock, ManualClock):
            now = self._clock.now()
            for transition in transitions:
                self._ingest(transition, now)
            self._emit(self.lifecycle.flush_due(now), now)
            return
        # Event-time mode (replay, backtest): lifecycle timers fire at their own event
        # times between the transitions, as they would have live, even when the
        # watermark jumps far ahead at once.
        for transition in transitions:
            self._flush_until(transition.at)
            self._ingest(transition, max(transition.at, self._event_now))
        self._flush_until(watermark)
        self._clock.set(watermark)

    def replace_rules(self, rules: list[AnyRule]) -> None:
        """Evaluate ``rules`` from now on (a reload). Unchanged rules keep their state and
        firing alerts; alerts of removed or changed rules are resolved and notified now.
        Call it between batches, on the thread that runs the pipeline."""
        self.engine, resolved = self.engine.reloaded(rules)
        now = self._clock.now()
        for transition in resolved:
            self._ingest(transition, now)
        self._emit(self.lifecycle.flush_due(now), now)

    def _flush_until(self, until: datetime) -> None:
        due = self.lifecycle.next_due()
        while due is not None and due <= until:
            self._event_now = max(self._event_now, due)
            self._emit(self.lifecycle.flush_due(self._event_now), self._event_now)
            due = self.lifecycle.next_due()
        self._event_now = max(self._event_now, until)

    def _ingest(self, transition: AlertTransition, now: datetime) -> None:
        alert = self._alert(transition)
        self._remember(transition, alert)
        self.lifecycle.ingest(alert, now)

    def _emit(self, notifications: list[Notification], now: datetime) -> None:
        for notification in notifications:
            if self._outbox is None:
                self.unsent.append(notification)
                if len(self.unsent) > MAX_UNSENT:  # no outbox: keep a bounded tail only
                    del self.unsent[0]
                    self.dropped_unsent += 1
            elif isinstance(self._outbox, NotificationSubmitter):
                self._outbox.submit(notification)
            else:
                self._outbox.put(notification, now.timestamp())

    def flush(self) -> None:
        if self._state_path is None:
            return
        state = {
            "version": STATE_VERSION,
            "engine": orjson.loads(self.engine.snapshot()),
            "lifecycle": self.lifecycle.dump(),
            "history": list(self._history.values()),
        }
        data = orjson.dumps(state)
        if data != self._written:  # an idle daemon does not fsync the same state every second
            write_atomically(self._state_path, data)
            self._written = data

    def report(self) -> list[dict[str, Any]]:
        """Every alert that fired, oldest first: rule, labels, starts_at, ends_at (None while
        firing), events — as in the replay report's ``alerts``."""
        return [dict(entry) for entry in self._history.values()]

    def _alert(self, t: AlertTransition) -> Alert:
        fp = fingerprint(t.labels)
        previous = next((a for a in self.lifecycle.firing() if a.fingerprint == fp), None)
        origin, sample_path = (
            self._where(t) if previous is None else (previous.origin, previous.sample_path)
        )
        return Alert(
            rule=t.rule,
            fingerprint=fp,
            status=t.status,
            severity=t.severity,
            labels=dict(t.labels),
            annotations=dict(t.annotations),
            starts_at=t.starts_at,
            ends_at=t.ends_at,
            events=t.events,
            origin=origin,
            sample_path=sample_path,
            generator_url=f"{self.config.external_url.rstrip('/')}/rules/{t.rule}",
        )

    def _where(self, t: AlertTransition) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(origin hop, sample request path) from the transition's sample record."""
        origin: dict[str, Any] | None = {
            k: v for k, v in t.sample.items() if k in ("role", "pod", "namespace", "file")
        } or None
        request_id = t.sample.get("request_id")
        if self._correlator is None or request_id is None:
            return origin, None
        path = self._correlator.path_for(request_id)
        if path is None:
            return origin, None
        sample_path = path.to_json()
        found = sample_path.get("origin")
        return (found if isinstance(found, dict) else origin), sample_path

    def _remember(self, t: AlertTransition, alert: Alert) -> None:
        key = (alert.fingerprint, _iso(t.starts_at))
        labels = {k: v for k, v in t.labels.items() if k != "alertname"}
        self._history[key] = {
            "rule": t.rule,
            "labels": labels,
            "starts_at": _iso(t.starts_at),
            "ends_at": None if t.ends_at is None else _iso(t.ends_at),
            "events": t.events,
        }
        while len(self._history) > self.config.max_report_alerts:
            del self._history[next(iter(self._history))]

    def _silenced(self, labels: Mapping[str, str], now: datetime) -> bool:
        if self._silences is None:
            return False
        try:
            self._last_silences = self._silences.load()
        except SilenceError as exc:
            log.warning("keeping the previous silences: %s", exc)
        return any(s.mutes(labels, now) for s in self._last_silences)

    def _restore(self) -> None:
        path = self._state_path
        if path is None or not path.exists():
            return
        try:
            state = orjson.loads(path.read_bytes())
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"unknown state version {state.get('version')!r}")
            self.engine.restore(orjson.dumps(state["engine"]))
            self.lifecycle.load(state["lifecycle"])
            for entry in state["history"]:
                self._history[
                    (
                        fingerprint({"alertname": entry["rule"], **entry["labels"]}),
                        entry["starts_at"],
                    )
                ] = entry
        except (OSError, ValueError, KeyError, TypeError) as exc:
            aside = path.with_name(path.name + ".corrupt")
            log.error(
                "alert state %s unreadable (%s); moved to %s, starting afresh", path, exc, aside
            )
            path.replace(aside)
            self.engine = RuleEngine(self.engine.rules)
            self.lifecycle = AlertLifecycle(
                RouteTree(self.config),
                tuple(InhibitRule.from_config(r) for r in self.config.inhibit_rules),
                self._silenced,
            )
            self._history.clear()


def build_alert_stage(
    config: AlertsConfig,
    *,
    clock: Clock,
    outbox: Outbox | None,
    correlator: Correlator | None = None,
    state_dir: Path | None = None,
) -> AlertStage:
    """Load the configured rules (RuleError on any invalid rule) and build the stage,
    restoring engine and lifecycle state from ``state_dir`` when present."""
    return AlertStage(
        config,
        configured_rules(config),
        clock=clock,
        outbox=outbox,
        correlator=correlator,
        state_dir=state_dir,
    )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
