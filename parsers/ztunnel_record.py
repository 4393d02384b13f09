"""Normalize raw ztunnel access-log fields (text or JSON) into a record."""

from __future__ import annotations

from typing import Any

from parsers.flags import ztunnel_signals
from parsers.outcome import FieldError
from parsers.record import Format, Record
from parsers.timefmt import BadTime, parse_time
from parsers.ztunnel_errors import classify_error

# Messages of the access-log events (metrics.rs); other messages under target ``access``
# would be a newer ztunnel: kept as records, not dropped.
ACCESS_MESSAGES = frozenset({"connection complete", "connection failed", "connection opened"})

ZTUNNEL_STRING_FIELDS: dict[str, str] = {
    "direction": "direction",
    "src.addr": "src_addr",
    "src.workload": "src_workload",
    "src.namespace": "src_namespace",
    "src.identity": "src_identity",
    "src.cluster": "src_cluster",
    "dst.addr": "dst_addr",
    "dst.hbone_addr": "dst_hbone_addr",
    "dst.service": "dst_service",
    "dst.workload": "dst_workload",
    "dst.namespace": "dst_namespace",
    "dst.identity": "dst_identity",
    "dst.cluster": "dst_cluster",
    "error": "error",
}
LEVELS = frozenset({"error", "warn", "info", "debug", "trace"})


def _int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    raise FieldError(name, f"{name}: expected an integer, got {str(value)[:40]!r}")


def _duration_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.endswith("ms"):
        value = value[:-2]
    return _int("duration", value)


def ztunnel_record(
    fields: dict[str, Any],
    fmt: Format,
    *,
    time: str,
    level: str,
    message: str,
    file: str | None,
    lineno: int,
    pod: str | None,
    namespace: str | None,
    container: str | None,
) -> Record:
    """A record from one access event's fields (ztunnel's dotted keys, values unescaped).

    Unknown keys are ignored; every field but the timestamp is optional (ztunnel omits
    unknown values). Raises ``FieldError`` for an unreadable timestamp or number.
    """
    try:
        time, ts = parse_time(time)
    except BadTime as exc:
        raise FieldError("time", str(exc)) from exc
    strings: dict[str, Any] = {}
    for source, key in ZTUNNEL_STRING_FIELDS.items():
        value = fields.get(source)
        if value is not None and not isinstance(value, str):
            if isinstance(value, (dict, list)):
                raise FieldError(source, f"{source}: expected a string")
            value = str(value)
        strings[key] = value
    error = strings["error"]
    error_class = classify_error(error)
    return Record(
        kind="ztunnel",
        format=fmt,
        time=time,
        ts=ts,
        file=file,
        lineno=lineno,
        pod=pod,
        namespace=namespace,
        container=container,
        role="ztunnel",
        signals=ztunnel_signals(error, error_class),
        level=level.lower(),
        message=message,
        bytes_sent=_int("bytes_sent", fields.get("bytes_sent")),
        bytes_recv=_int("bytes_recv", fields.get("bytes_recv")),
        duration_ms=_duration_ms(fields.get("duration")),
        error_class=error_class,
        **strings,
    )
