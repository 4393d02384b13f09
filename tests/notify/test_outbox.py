"""The SQLite outbox: durable, idempotent puts; due order; retry, dead and delivered states."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from logwatch.notify import codec
from logwatch.notify.outbox import Outbox
from tests.notify.conftest import T0, make_alert, make_notification, resolved


def test_notification_round_trips_through_the_codec() -> None:
    alert = make_alert(
        3,
        origin={"hop": "waypoint", "response_flags": "UO"},
        sample_path={"hops": [{"kind": "ztunnel"}]},
        generator_url="http://logwatch/rules/x",
    )
    note = make_notification(alert, resolved(make_alert(4)))
    assert codec.decode(codec.encode(note)) == note


def test_put_is_durable_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite3"
    outbox = Outbox(path)
    note = make_notification(make_alert(1), make_alert(2))
    first_id, stored = outbox.put(note, now=100.0)
    assert stored
    # the same notification again (alerts in another order too) is the same entry
    again_id, stored_again = outbox.put(make_notification(make_alert(2), make_alert(1)), now=101.0)
    assert (again_id, stored_again) == (first_id, False)
    # a repeat of the group later is a new notification
    repeat = make_notification(make_alert(1), make_alert(2), created_at=T0 + timedelta(hours=4))
    repeat_id, stored_repeat = outbox.put(repeat, now=102.0)
    assert stored_repeat and repeat_id != first_id
    outbox.close()
    outbox.close()  # idempotent

    reopened = Outbox(path)
    assert reopened.counts().pending == 2
    entries = reopened.due(now=200.0, limit=10)
    assert [e.id for e in entries] == [first_id, repeat_id]
    assert entries[0].notification() == note
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    reopened.close()


def test_due_retry_dead_delivered(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    a, _ = outbox.put(make_notification(make_alert(1)), now=10.0)
    b, _ = outbox.put(make_notification(make_alert(2)), now=11.0)
    c, _ = outbox.put(make_notification(make_alert(3)), now=12.0)
    assert [e.id for e in outbox.due(now=11.5, limit=10)] == [a, b]
    outbox.mark_retry(a, next_at=50.0, attempts=1, reason="HTTP 503: busy", now=12.0)
    assert [e.id for e in outbox.due(now=20.0, limit=10)] == [b, c]
    assert [e.id for e in outbox.due(now=20.0, limit=1)] == [b]
    assert outbox.next_due_at() == 11.0
    outbox.mark_delivered(b, now=20.0)
    outbox.mark_dead(c, "HTTP 400: invalid", now=21.0, attempts=1)
    assert outbox.state_of(a) == ("pending", 1, "HTTP 503: busy")
    assert outbox.state_of(c) == ("dead", 1, "HTTP 400: invalid")
    assert [e.id for e in outbox.pending("r", 10)] == [a]  # in put order, due or not
    counts = outbox.counts()
    assert (counts.pending, counts.delivered, counts.dead) == (1, 1, 1)
    # a delivered or dead notification put again is not delivered again
    assert outbox.put(make_notification(make_alert(2)), now=30.0)[1] is False
    assert outbox.put(make_notification(make_alert(3)), now=30.0)[1] is False
    # prune forgets delivered entries only
    assert outbox.prune(delivered_before=100.0) == 1
    counts = outbox.counts()
    assert (counts.pending, counts.delivered, counts.dead) == (1, 0, 1)
    outbox.close()


def test_firing_table_tracks_firing_alerts_per_receiver(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.firing_update("am", (make_alert(1), make_alert(2)))
    outbox.firing_update("other", (make_alert(9),))
    assert [a.fingerprint for a in outbox.firing("am")] == ["fp0001", "fp0002"]
    outbox.firing_update("am", (resolved(make_alert(1)),))
    assert [a.fingerprint for a in outbox.firing("am")] == ["fp0002"]
    outbox.close()
    assert [a.fingerprint for a in Outbox(tmp_path / "o.sqlite3").firing("am")] == ["fp0002"]


def test_unreadable_entry_is_reported_not_crashing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    entry_id, _ = outbox.put(make_notification(), now=1.0)
    outbox._conn.execute("UPDATE outbox SET body = ? WHERE id = ?", (b"{not json", entry_id))
    outbox._conn.commit()
    (entry,) = outbox.due(now=2.0, limit=5)
    try:
        entry.notification()
    except codec.UndecodableNotification as exc:
        assert "not readable" in str(exc)
    else:
        raise AssertionError("corrupt entry decoded")
    outbox.close()


def test_put_many_is_one_transaction_and_idempotent(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    first = make_notification(make_alert(1))
    results = outbox.put_many([first, make_notification(make_alert(2)), first], now=5.0)
    assert [stored for _, stored in results] == [True, True, False]
    assert results[0][0] == results[2][0]
    assert outbox.counts().pending == 2
    outbox.close()


def test_dead_letters_can_be_listed_and_requeued(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    a, _ = outbox.put(make_notification(make_alert(1)), now=1.0)
    b, _ = outbox.put(make_notification(make_alert(2)), now=1.0)
    outbox.mark_dead(a, "HTTP 404: no_service", now=2.0, attempts=1)
    outbox.mark_dead(b, "HTTP 503: ", now=3.0, attempts=10)
    letters = outbox.dead_letters()
    assert [(d.id, d.attempts, d.reason) for d in letters] == [
        (b, 10, "HTTP 503: "),
        (a, 1, "HTTP 404: no_service"),
    ]
    assert outbox.requeue(b, now=4.0) is True
    assert outbox.requeue(b, now=4.0) is False  # no longer dead
    assert outbox.state_of(b) == ("pending", 0, "")
    assert [e.id for e in outbox.due(now=4.0, limit=10)] == [b]
    outbox.close()
