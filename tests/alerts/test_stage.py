from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.silences import SilenceStore
from logwatch.alerts.stage import AlertStage, build_alert_stage
from logwatch.clock import ManualClock
from logwatch.notify.outbox import Outbox
from rules.model import load_rules, malformed_frame
from tests.rules.factories import at, batch, rl

RULES = load_rules("""
rules:
  - name: RateLimited
    kind: threshold
    where: {signals: rate_limited}
    group_by: [route_name]
    window: 1m
    threshold: 1
    resolve_after: 1m
    annotations: {summary: "RL on {labels.route_name}"}
  - name: ParseErrors
    kind: threshold
    source: malformed
    group_by: [file]
    threshold: 10
""")
CONFIG = AlertsConfig(group_wait=timedelta(seconds=10), group_interval=timedelta(minutes=1))


class Path_:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id

    def to_json(self) -> dict[str, object]:
        return {"request_id": self.request_id, "origin": {"role": "waypoint", "pod": "wp-1"}}


class Correlator:
    def path_for(self, request_id: str) -> Path_ | None:
        return Path_(request_id) if request_id == "req-1" else None


def stage(tmp_path: Path, outbox: Outbox | None) -> AlertStage:
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    return AlertStage(
        CONFIG, RULES, clock=clock, outbox=outbox, correlator=Correlator(), state_dir=tmp_path
    )


def test_firing_and_resolved_reach_the_real_outbox_in_event_time(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        s = stage(tmp_path, outbox)
        s.on_records(batch(rl(0, request_id="req-1", role="ingress", pod="gw-1")))
        s.on_watermark(at(3600))  # one jump: timers still fall at their event times
        entries = outbox.due(now=1e12, limit=10)
        notes = [e.notification() for e in entries]
        assert [n.status for n in notes] == ["firing", "resolved"]
        firing = notes[0].alerts[0]
        assert firing.labels["route_name"] == "r1"
        assert firing.annotations["summary"] == "RL on r1"
        assert firing.starts_at == at(1) and notes[0].created_at == at(11)
        assert firing.origin == {"role": "waypoint", "pod": "wp-1"}
        assert firing.sample_path is not None and firing.sample_path["request_id"] == "req-1"
        assert firing.generator_url == "http://localhost:8686/rules/RateLimited"
        assert notes[1].alerts[0].ends_at == at(61)
        assert s.report() == [
            {
                "rule": "RateLimited",
                "labels": {"severity": "warning", "route_name": "r1"},
                "starts_at": "2025-07-18T03:00:01.000Z",
                "ends_at": "2025-07-18T03:01:01.000Z",
                "events": 1,
            }
        ]
    finally:
        outbox.close()


def test_origin_falls_back_to_the_matching_record_without_a_path(tmp_path: Path) -> None:
    s = stage(tmp_path, None)
    s.on_records(batch(rl(0, request_id="unknown", role="ingress", pod="gw-1")))
    s.on_watermark(at(20))
    (note,) = s.unsent
    assert note.alerts[0].origin == {"role": "ingress", "pod": "gw-1"}
    assert note.alerts[0].sample_path is None


def test_flush_persists_and_a_new_stage_resumes(tmp_path: Path) -> None:
    s = stage(tmp_path, None)
    s.on_records(batch(rl(0)))
    s.on_watermark(at(20))
    assert [n.status for n in s.unsent] == ["firing"]
    s.flush()
    resumed = stage(tmp_path, None)
    resumed.on_watermark(at(600))
    assert [n.status for n in resumed.unsent] == ["resolved"]  # no second firing
    assert resumed.report()[0]["ends_at"] == "2025-07-18T03:01:01.000Z"


def test_corrupt_state_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / CONFIG.state_file).write_bytes(b"{not json")
    s = stage(tmp_path, None)
    assert (tmp_path / (CONFIG.state_file + ".corrupt")).exists()
    s.on_records(batch(rl(0)))
    s.on_watermark(at(20))
    assert len(s.unsent) == 1


def test_silence_file_in_state_dir_mutes(tmp_path: Path) -> None:
    SilenceStore(tmp_path / CONFIG.silences_file).add(
        ("route_name=r1",), at(0), at(3600), "test", "maintenance"
    )
    s = stage(tmp_path, None)
    s.on_records(batch(rl(0), rl(1, "r2")))
    s.on_watermark(at(30))
    (note,) = s.unsent
    assert [a.labels["route_name"] for a in note.alerts] == ["r2"]


def test_malformed_counts_feed_source_malformed_rules(tmp_path: Path) -> None:
    s = stage(tmp_path, None)
    s.on_malformed(
        malformed_frame({("/var/log/a.log", "unknown-format"): 12, ("/b", "x"): 0}, at(0))
    )
    s.on_watermark(at(30))
    (note,) = s.unsent
    assert note.alerts[0].labels["file"] == "/var/log/a.log"


def test_build_alert_stage_loads_the_builtin_pack(tmp_path: Path) -> None:
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    built = build_alert_stage(AlertsConfig(), clock=clock, outbox=None, state_dir=tmp_path)
    names = {r.name for r in built.engine.rules}
    assert {
        "RateLimited",
        "CircuitBreakerOpen",
        "HighErrorRatio",
        "LogsStopped",
        "ParseErrors",
    } <= names
    without = build_alert_stage(
        AlertsConfig(disabled_rules=("LogsStopped",)), clock=clock, outbox=None
    )
    assert "LogsStopped" not in {r.name for r in without.engine.rules}


def test_live_stage_submits_through_the_dispatcher(tmp_path: Path) -> None:
    from logwatch.clock import WallClock
    from logwatch.daemon_stats import DaemonStats
    from logwatch.notify.build import build_notifiers
    from logwatch.notify.config import NotifiersConfig
    from logwatch.notify.dispatcher import Dispatcher

    config = NotifiersConfig()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        dispatcher = Dispatcher(
            outbox,
            build_notifiers(config),
            {r.name: r.retry for r in config.receivers},
            DaemonStats(),
        )
        live = AlertStage(
            AlertsConfig(group_wait=timedelta(0)),
            RULES,
            clock=WallClock(),
            outbox=dispatcher,
            state_dir=tmp_path,
        )
        now = datetime.now(UTC)
        live.on_records(batch(rl(0)).with_columns(ts=pl.lit(now - timedelta(seconds=2))))
        live.on_watermark(now)
        (entry,) = outbox.due(now=now.timestamp() + 60, limit=10)
        assert entry.receiver == "console" and entry.notification().status == "firing"
    finally:
        outbox.close()


def test_replaced_rules_resolve_the_alerts_of_a_removed_rule(tmp_path: Path) -> None:
    s = stage(tmp_path, None)
    s.on_records(batch(rl(0), rl(1, "r2")))
    s.on_watermark(at(20))
    assert [(n.status, len(n.alerts)) for n in s.unsent] == [("firing", 2)]
    s.replace_rules([r for r in RULES if r.name != "RateLimited"])
    s.on_watermark(at(200))  # the resolved notification waits for the group interval
    assert [(n.status, len(n.alerts)) for n in s.unsent] == [("firing", 2), ("resolved", 2)]
    assert {a.ends_at for a in s.unsent[1].alerts} == {at(20)}
    assert [r.name for r in s.engine.rules] == ["ParseErrors"]
    # the removed rule no longer counts anything
    s.on_records(batch(rl(300)))
    s.on_watermark(at(400))
    assert len(s.unsent) == 2
