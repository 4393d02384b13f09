"""Durations as people write them in rule files: ``30s``, ``5m``, ``1h30m``, ``2d``, ``250ms``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_US = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``1h30m``-style text (or a number of seconds, or a timedelta).

    Raises ValueError naming the text when it is empty, negative or has unknown units.
    """
    if isinstance(text, timedelta):
        if text < timedelta(0):
            raise ValueError(f"duration must not be negative: {text}")
        return text
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"duration must not be negative: {text}")
        return timedelta(seconds=text)
    stripped = text.strip()
    if stripped == "0":
        return timedelta(0)
    parts = _PART.findall(stripped)
    if not stripped or "".join(n + u for n, u in parts) != stripped:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m, 250ms)")
    return timedelta(microseconds=sum(int(n) * _UNIT_US[u] for n, u in parts))


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m``-style spelling of ``value`` (inverse of parse_duration)."""
    micros = value // timedelta(microseconds=1)
    if micros == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNIT_US[unit]
        if micros >= size:
            out.append(f"{micros // size}{unit}")
            micros %= size
    return "".join(out)


def to_micros(value: timedelta) -> int:
    return value // timedelta(microseconds=1)
