"""Record selections for replay: time bounds, route and namespace, as one polars expression.

Time bounds are RFC 3339 timestamps (``2025-07-18T03:10:00Z``; a missing offset means UTC)
or a duration before *now* (``90s``, ``15m``, ``2h``, ``1d``, like ``kubectl logs --since``).
``since`` is inclusive, ``until`` exclusive. Route patterns are shell globs (``*``, ``?``,
``[...]``) matched against the whole ``route_name``; records without a route (ztunnel, a
no-route 404) never match a route filter. A namespace matches the proxy pod's namespace (from
the log path) or, for ztunnel records, the source or destination workload's namespace.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime, timedelta
from functools import reduce

import polars as pl

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _glob_regex(glob: str) -> str:
    """A shell glob as an anchored regex for polars (Rust regex spells the end anchor \\z,
    where fnmatch writes Python's \\Z)."""
    return "^(?:" + fnmatch.translate(glob).replace("\\Z", "\\z") + ")"


class BadTimeBound(ValueError):
    """A --since/--until value that is neither RFC 3339 nor a duration like ``15m``."""


def parse_time_bound(text: str, now: datetime) -> datetime:
    """The instant ``text`` names: an RFC 3339 time, or ``now`` minus a duration."""
    value = text.strip()
    match = _DURATION.match(value)
    if match is not None:
        return now - timedelta(seconds=int(match["amount"]) * _UNITS[match["unit"]])
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BadTimeBound(
            f"{text!r} is neither an RFC 3339 time (2025-07-18T03:10:00Z) nor a duration (15m)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def record_selection(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    routes: tuple[str, ...] = (),
    namespaces: tuple[str, ...] = (),
) -> pl.Expr | None:
    """An expression keeping the records that pass every given filter (None: keep all).
    Several routes (or namespaces) are alternatives."""
    conditions: list[pl.Expr] = []
    if since is not None:
        conditions.append(pl.col("ts") >= since)
    if until is not None:
        conditions.append(pl.col("ts") < until)
    if routes:
        pattern = "|".join(_glob_regex(route) for route in routes)
        conditions.append(pl.col("route_name").str.contains(pattern).fill_null(False))
    if namespaces:
        in_namespace = [
            pl.col(column).is_in(list(namespaces)).fill_null(False)
            for column in ("namespace", "src_namespace", "dst_namespace")
        ]
        conditions.append(reduce(lambda a, b: a | b, in_namespace))
    if not conditions:
        return None
    return reduce(lambda a, b: a & b, conditions)
