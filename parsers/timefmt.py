"""Event timestamps: lenient RFC 3339 in, UTC ``datetime`` and an RFC 3339 ``Z`` string out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)"
)


class BadTime(ValueError):
    """A timestamp that is not RFC 3339."""


def parse_time(text: str) -> tuple[str, datetime]:
    """``(time, ts)`` for an RFC 3339 timestamp with 0-9 fraction digits and ``Z`` or an offset.

    ``time`` is the input itself when it is already UTC with ``Z`` (so the printed record keeps
    the source precision); otherwise the instant converted to UTC with microseconds and ``Z``.
    ``ts`` is truncated to microseconds. Raises ``BadTime`` on anything else.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise BadTime(f"not an RFC 3339 time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        ts = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, UTC
        )
    except ValueError as exc:
        raise BadTime(f"not a valid date: {text[:40]!r}") from exc
    if zone in ("Z", "z"):
        return (text if zone == "Z" and text[10] == "T" else _format(ts, fraction)), ts
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    ts = ts - sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return _format(ts, fraction), ts


def _format(ts: datetime, fraction: str | None) -> str:
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if not fraction:
        return base + "Z"
    return f"{base}.{ts.microsecond:06d}Z"
