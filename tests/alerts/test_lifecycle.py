from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest
from pydantic import ValidationError

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.lifecycle import fingerprint
from tests.alerts.factories import alert, at, lifecycle


def names(notification: object) -> list[str]:
    return sorted(a.labels.get("route_name", "") for a in notification.alerts)  # type: ignore[attr-defined]


def test_fingerprint_is_stable_and_label_order_free() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    assert len(fingerprint({"a": "1"})) == 16


def test_group_wait_batches_alerts_into_one_notification() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    lc.ingest(alert(route_name="b"), at(5))
    assert lc.flush_due(at(9)) == []
    (sent,) = lc.flush_due(at(10))
    assert sent.status == "firing" and names(sent) == ["a", "b"]
    assert sent.group_labels == {"alertname": "RL"} and sent.receiver == "console"


def test_group_interval_delays_later_alerts_and_nothing_new_sends_nothing() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    assert len(lc.flush_due(at(10))) == 1
    lc.ingest(alert(route_name="b"), at(20))
    assert lc.flush_due(at(69)) == []
    (sent,) = lc.flush_due(at(70))
    assert names(sent) == ["a", "b"]
    assert lc.flush_due(at(130)) == []  # nothing changed: no repeat before repeat_interval


def test_dedupe_of_repeated_firing() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    lc.ingest(alert(route_name="a"), at(1))
    (sent,) = lc.flush_due(at(10))
    assert len(sent.alerts) == 1
    assert lc.stats.duplicate_firing == 1


def test_repeat_interval_resends_firing() -> None:
    lc = lifecycle(repeat_interval="5m")
    lc.ingest(alert(route_name="a"), at(0))
    assert len(lc.flush_due(at(10))) == 1
    sent_at = []
    for minute in range(1, 12):
        if lc.flush_due(at(10 + 60 * minute)):
            sent_at.append(minute)
    assert sent_at == [5, 10]


def test_resolved_is_sent_once_for_notified_alerts() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    lc.flush_due(at(10))
    lc.ingest(alert(status="resolved", end=30, route_name="a"), at(40))
    (sent,) = lc.flush_due(at(70))
    assert sent.status == "resolved" and sent.alerts[0].ends_at == at(30)
    assert lc.flush_due(at(200)) == []
    assert lc.groups() == []


def test_alert_resolved_before_first_flush_is_never_sent() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    lc.ingest(alert(status="resolved", end=2, route_name="a"), at(3))
    assert lc.flush_due(at(10)) == []


def test_unknown_resolved_is_counted_and_dropped() -> None:
    lc = lifecycle()
    lc.ingest(alert(status="resolved", end=2), at(3))
    assert lc.flush_due(at(100)) == [] and lc.stats.unknown_resolved == 1


class Silences:
    def __init__(self) -> None:
        self.until: datetime | None = None

    def __call__(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.until is not None and now < self.until and labels.get("route_name") == "a"


def test_silence_suppresses_and_expiry_reenables() -> None:
    silences = Silences()
    silences.until = at(100)
    lc = lifecycle(silences)
    lc.ingest(alert(route_name="a"), at(0))
    lc.ingest(alert(route_name="b"), at(0))
    (sent,) = lc.flush_due(at(10))
    assert names(sent) == ["b"]
    assert lc.flush_due(at(70)) == []
    (again,) = lc.flush_due(at(130))  # silence over: "a" is new to the receiver
    assert names(again) == ["a", "b"]


def test_resolve_of_silenced_alert_is_not_sent() -> None:
    silences = Silences()
    silences.until = at(1000)
    lc = lifecycle(silences)
    lc.ingest(alert(route_name="a"), at(0))
    assert lc.flush_due(at(10)) == []
    lc.ingest(alert(status="resolved", end=20, route_name="a"), at(20))
    assert lc.flush_due(at(70)) == []


def test_inhibition_mutes_target_with_equal_labels_only() -> None:
    lc = lifecycle(
        inhibit_rules=[
            {
                "source_matchers": ["alertname=CB"],
                "target_matchers": ["alertname=Errors"],
                "equal": ["upstream_cluster"],
            }
        ],
        group_by=["alertname"],
    )
    lc.ingest(alert("CB", upstream_cluster="c1"), at(0))
    lc.ingest(alert("Errors", upstream_cluster="c1", route_name="x"), at(0))
    lc.ingest(alert("Errors", upstream_cluster="c2", route_name="y"), at(0))
    sent = lc.flush_due(at(10))
    by_rule = {n.alerts[0].rule: names(n) for n in sent}
    assert by_rule == {"CB": [""], "Errors": ["y"]}
    assert lc.stats.muted_inhibited >= 1


def test_routing_by_labels_severity_and_continue() -> None:
    lc = lifecycle(
        receiver="default",
        routes=[
            {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
            {
                "matchers": ["alertname=~Rate.*"],
                "receiver": "chat",
                "group_by": ["alertname", "route_name"],
            },
            {"matchers": ["alertname=CB"], "receiver": "never"},
        ],
    )
    lc.ingest(alert("CB", severity="critical", upstream_cluster="c"), at(0))
    lc.ingest(alert("RateLimited", route_name="a"), at(0))
    lc.ingest(alert("RateLimited", route_name="b"), at(0))
    lc.ingest(alert("Other"), at(0))
    sent = lc.flush_due(at(10))
    got = sorted(
        (n.receiver, n.alerts[0].rule, tuple(sorted(n.group_labels.items()))) for n in sent
    )
    assert got == [
        ("chat", "RateLimited", (("alertname", "RateLimited"), ("route_name", "a"))),
        ("chat", "RateLimited", (("alertname", "RateLimited"), ("route_name", "b"))),
        ("default", "Other", (("alertname", "Other"),)),
        ("never", "CB", (("alertname", "CB"),)),
        ("pager", "CB", (("alertname", "CB"),)),
    ]


def test_state_round_trips_through_dump_and_load() -> None:
    lc = lifecycle()
    lc.ingest(alert(route_name="a"), at(0))
    lc.flush_due(at(10))
    lc.ingest(alert(route_name="b"), at(20))
    restored = lifecycle()
    restored.load(lc.dump())
    (sent,) = restored.flush_due(at(70))
    assert names(sent) == ["a", "b"]
    restored.ingest(alert(status="resolved", end=80, route_name="a"), at(80))
    assert [n.status for n in restored.flush_due(at(130))] == ["resolved"]


def test_zero_group_interval_is_rejected_at_load() -> None:
    with pytest.raises(ValidationError, match="group_interval"):
        AlertsConfig.model_validate({"group_interval": "0s"})
    with pytest.raises(ValidationError, match=r"routes\.0\.repeat_interval"):
        AlertsConfig.model_validate({"routes": [{"receiver": "x", "repeat_interval": "0s"}]})
