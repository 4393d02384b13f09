"""Silences: operator-made mutes by label matchers and a time range, kept in the state dir.

The store is one JSON file (``silences.json``), rewritten atomically on every change, so the
CLI (``logwatch silence add/list/expire``) and a running daemon can share it: the daemon
re-reads it when its modification time changes. An unreadable file raises SilenceError
(the CLI reports it; the daemon keeps its last good view and logs it).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import orjson

from logwatch.alerts.matchers import Matcher, all_match, parse_matchers
from logwatch.alerts.statefile import write_atomically


class SilenceError(ValueError):
    """The silence file is unreadable or a silence is invalid."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and all_match(self._parsed(), labels)

    def _parsed(self) -> tuple[Matcher, ...]:
        return parse_matchers(self.matchers)

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"


class SilenceStore:
    """Silences in ``path``; every method reads the file afresh unless noted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[float, tuple[Silence, ...]] | None = None

    def load(self) -> tuple[Silence, ...]:
        """All silences (expired included). Missing file: none."""
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            return ()
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        try:
            raw = orjson.loads(self.path.read_bytes())
            silences = tuple(_from_json(item) for item in raw["silences"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SilenceError(f"{self.path}: unreadable silence file: {exc}") from None
        self._cache = (stamp, silences)
        return silences

    def add(
        self,
        matchers: tuple[str, ...],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> Silence:
        """Store a new silence; SilenceError when matchers are invalid or empty, or the
        time range is empty."""
        if not matchers:
            raise SilenceError("a silence needs at least one matcher")
        try:
            parse_matchers(matchers)
        except ValueError as exc:
            raise SilenceError(str(exc)) from None
        if ends_at <= starts_at:
            raise SilenceError("a silence must end after it starts")
        silence = Silence(secrets.token_hex(8), matchers, starts_at, ends_at, created_by, comment)
        self._save((*self.load(), silence))
        return silence

    def expire(self, silence_id: str, now: datetime) -> Silence:
        """End a silence now; SilenceError if no silence has that id (or a unique prefix)."""
        silences = list(self.load())
        hits = [i for i, s in enumerate(silences) if s.id.startswith(silence_id)]
        if len(hits) != 1:
            raise SilenceError(f"no single silence with id {silence_id!r}")
        index = hits[0]
        expired = replace(silences[index], ends_at=min(silences[index].ends_at, now))
        silences[index] = expired
        self._save(tuple(silences))
        return expired

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return any(s.mutes(labels, now) for s in self.load())

    def _save(self, silences: tuple[Silence, ...]) -> None:
        body = {"silences": [_to_json(s) for s in silences]}
        write_atomically(self.path, orjson.dumps(body, option=orjson.OPT_INDENT_2))
        self._cache = None


def _to_json(silence: Silence) -> dict[str, object]:
    return {
        "id": silence.id,
        "matchers": list(silence.matchers),
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


def _from_json(raw: dict[str, object]) -> Silence:
    starts = datetime.fromisoformat(str(raw["starts_at"]))
    ends = datetime.fromisoformat(str(raw["ends_at"]))
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("silence times must carry a timezone")
    matchers = raw["matchers"]
    if not isinstance(matchers, list):
        raise ValueError("matchers must be a list")
    return Silence(
        id=str(raw["id"]),
        matchers=tuple(str(m) for m in matchers),
        starts_at=starts,
        ends_at=ends,
        created_by=str(raw.get("created_by", "")),
        comment=str(raw.get("comment", "")),
    )
