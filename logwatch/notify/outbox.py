"""The durable outbox: notifications waiting for delivery, on SQLite in the state dir.

Guarantees:

- ``put`` returns only after the notification is committed with ``synchronous=FULL`` in WAL
  mode: it survives a crash or power loss from then on.
- ``put`` is idempotent by ``codec.notification_id``: putting the same notification again
  (pending, delivered or dead) stores nothing new. Delivered rows are kept for
  ``keep_delivered_s`` (see ``prune``) to remember this.
- An entry leaves ``pending`` only through ``mark_delivered`` or ``mark_dead``; a process
  that dies in between leaves it pending, so delivery is at least once.

It also keeps, per receiver, the alerts currently firing there (``firing_*``), for receivers
that need firing alerts re-posted (Alertmanager) even after a restart.

Threading: one connection, used from the event loop thread only. Every call is one short
statement plus a commit (an fsync): fine at alert rates, which are small.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logwatch.alerts.model import Alert, Notification
from logwatch.notify import codec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, receiver, next_at);
CREATE TABLE IF NOT EXISTS firing (
    receiver TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (receiver, fingerprint)
);
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    receiver: str
    body: bytes  # codec.encode(notification); decode with ``notification()``
    attempts: int
    next_at: float  # unix seconds
    created_at: float

    def notification(self) -> Notification:
        """Raises codec.UndecodableNotification if the stored body is unreadable."""
        return codec.decode(self.body)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    receiver: str
    attempts: int
    reason: str  # safe to show: never holds secrets
    updated_at: float  # unix seconds it was dead-lettered


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    delivered: int
    dead: int


class Outbox:
    def __init__(self, path: Path) -> None:
        """Open (creating if needed) the outbox at ``path``. Raises sqlite3.Error if the
        file is not a usable database."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db: sqlite3.Connection | None = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("outbox is closed")
        return self._db

    def close(self) -> None:
        """Idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def put(self, notification: Notification, now: float) -> tuple[str, bool]:
        """Store ``notification`` durably, due at ``now``. Returns (id, stored): stored is
        False when the same notification was already in the outbox."""
        return self.put_many((notification,), now)[0]

    def put_many(self, notifications: Sequence[Notification], now: float) -> list[tuple[str, bool]]:
        """``put`` for several notifications in one transaction: one disk sync for the
        lot (a sync costs milliseconds), all stored or none."""
        results: list[tuple[str, bool]] = []
        with self._conn:
            for notification in notifications:
                entry_id = codec.notification_id(notification)
                cursor = self._conn.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (id, receiver, body, next_at, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (entry_id, notification.receiver, codec.encode(notification), now, now, now),
                )
                results.append((entry_id, cursor.rowcount == 1))
        return results

    def due(self, now: float, limit: int, receiver: str | None = None) -> list[OutboxEntry]:
        """Pending entries with ``next_at <= now``, oldest due first."""
        query = "SELECT id, receiver, body, attempts, next_at, created_at FROM outbox WHERE state = 'pending' AND next_at <= ?"
        params: tuple[object, ...] = (now,)
        if receiver is not None:
            query += " AND receiver = ?"
            params += (receiver,)
        rows = self._conn.execute(query + " ORDER BY next_at, created_at LIMIT ?", (*params, limit))
        return [OutboxEntry(*row) for row in rows]

    def pending(self, receiver: str, limit: int) -> list[OutboxEntry]:
        """The oldest pending entries of ``receiver`` in the order they were put (due or
        not): a receiver gets its notifications in order."""
        rows = self._conn.execute(
            "SELECT id, receiver, body, attempts, next_at, created_at FROM outbox"
            " WHERE state = 'pending' AND receiver = ? ORDER BY rowid LIMIT ?",
            (receiver, limit),
        )
        return [OutboxEntry(*row) for row in rows]

    def next_due_at(self, receiver: str | None = None) -> float | None:
        """Earliest ``next_at`` of the pending entries, or None when nothing is pending."""
        query = "SELECT MIN(next_at) FROM outbox WHERE state = 'pending'"
        params: tuple[object, ...] = ()
        if receiver is not None:
            query += " AND receiver = ?"
            params = (receiver,)
        (earliest,) = self._conn.execute(query, params).fetchone()
        return float(earliest) if earliest is not None else None

    def pending_receivers(self) -> set[str]:
        rows = self._conn.execute("SELECT DISTINCT receiver FROM outbox WHERE state = 'pending'")
        return {receiver for (receiver,) in rows}

    def _update(self, sql: str, params: tuple[object, ...]) -> None:
        with self._conn:
            self._conn.execute(sql, params)

    def mark_delivered(self, entry_id: str, now: float, attempts: int | None = None) -> None:
        self._update(
            "UPDATE outbox SET state = 'delivered', updated_at = ?, reason = '',"
            " attempts = COALESCE(?, attempts) WHERE id = ?",
            (now, attempts, entry_id),
        )

    def mark_retry(
        self, entry_id: str, next_at: float, attempts: int, reason: str, now: float
    ) -> None:
        self._update(
            "UPDATE outbox SET next_at = ?, attempts = ?, reason = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
            (next_at, attempts, reason, now, entry_id),
        )

    def mark_dead(
        self, entry_id: str, reason: str, now: float, attempts: int | None = None
    ) -> None:
        self._update(
            "UPDATE outbox SET state = 'dead', reason = ?, updated_at = ?,"
            " attempts = COALESCE(?, attempts) WHERE id = ?",
            (reason, now, attempts, entry_id),
        )

    def mark_receiver_dead(self, receiver: str, reason: str, now: float) -> int:
        """Dead-letter every pending entry of ``receiver``; returns how many."""
        with self._conn:
            cursor = self._conn.execute(
                "UPDATE outbox SET state = 'dead', reason = ?, updated_at = ? WHERE receiver = ? AND state = 'pending'",
                (reason, now, receiver),
            )
        return cursor.rowcount

    def state_of(self, entry_id: str) -> tuple[str, int, str] | None:
        """(state, attempts, reason) of one entry, or None if unknown."""
        row = self._conn.execute(
            "SELECT state, attempts, reason FROM outbox WHERE id = ?", (entry_id,)
        ).fetchone()
        return (str(row[0]), int(row[1]), str(row[2])) if row else None

    def counts(self) -> OutboxCounts:
        by_state = dict(
            self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        )
        return OutboxCounts(
            pending=by_state.get("pending", 0),
            delivered=by_state.get("delivered", 0),
            dead=by_state.get("dead", 0),
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The most recent dead letters, newest first."""
        rows = self._conn.execute(
            "SELECT id, receiver, attempts, reason, updated_at FROM outbox"
            " WHERE state = 'dead' ORDER BY updated_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [DeadLetter(*row) for row in rows]

    def requeue(self, entry_id: str, now: float) -> bool:
        """Give a dead letter another full set of attempts, due at ``now`` (for example
        after fixing a receiver's config). Returns False if ``entry_id`` is not dead."""
        with self._conn:
            cursor = self._conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?, updated_at = ?,"
                " reason = '' WHERE id = ? AND state = 'dead'",
                (now, now, entry_id),
            )
        return cursor.rowcount == 1

    def prune(self, delivered_before: float) -> int:
        """Forget delivered entries last updated before ``delivered_before``; dead letters
        stay for inspection. Returns how many rows were removed."""
        with self._conn:
            cursor = self._conn.execute(
                "DELETE FROM outbox WHERE state = 'delivered' AND updated_at < ?",
                (delivered_before,),
            )
        return cursor.rowcount

    # firing alerts per receiver, for re-posting

    def firing_update(self, receiver: str, alerts: tuple[Alert, ...]) -> None:
        """Record firing alerts as firing at ``receiver`` and forget resolved ones."""
        with self._conn:
            for alert in alerts:
                if alert.status == "firing":
                    self._conn.execute(
                        "INSERT OR REPLACE INTO firing (receiver, fingerprint, body) VALUES (?, ?, ?)",
                        (receiver, alert.fingerprint, codec.encode_alert(alert)),
                    )
                else:
                    self._conn.execute(
                        "DELETE FROM firing WHERE receiver = ? AND fingerprint = ?",
                        (receiver, alert.fingerprint),
                    )

    def firing(self, receiver: str) -> list[Alert]:
        """Alerts recorded as firing at ``receiver``; unreadable rows are skipped and removed."""
        alerts: list[Alert] = []
        rows = self._conn.execute(
            "SELECT fingerprint, body FROM firing WHERE receiver = ? ORDER BY fingerprint",
            (receiver,),
        ).fetchall()
        for fingerprint, body in rows:
            try:
                alerts.append(codec.decode_alert(body))
            except codec.UndecodableNotification:
                self._update(
                    "DELETE FROM firing WHERE receiver = ? AND fingerprint = ?",
                    (receiver, fingerprint),
                )
        return alerts
