"""Normalize raw Envoy access-log values (from JSON or text) into a record.

Both encodings name the same operators, so JSON keys and text operators are first mapped to
record keys, then normalized here: ``-`` and ``null`` become ``None``, numeric strings become
ints, flags become sorted short codes, and the derived ``reset_reason`` and ``signals`` are
added.
"""

from __future__ import annotations

from typing import Any

from parsers.details import reset_reason
from parsers.flags import BadFlags, envoy_signals, parse_flags
from parsers.outcome import FieldError
from parsers.record import Format, Record
from parsers.roles import RoleMap
from parsers.timefmt import BadTime, parse_time

ENVOY_STRING_KEYS: tuple[str, ...] = (
    "method",
    "path",
    "protocol",
    "authority",
    "response_code_details",
    "connection_termination_details",
    "upstream_transport_failure_reason",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "upstream_host",
    "upstream_cluster",
    "upstream_local_address",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
    "route_name",
)
ENVOY_INT_KEYS: tuple[str, ...] = (
    "response_code",
    "bytes_received",
    "bytes_sent",
    "duration_ms",
    "upstream_service_time_ms",
)


def _text(name: str, value: Any) -> str | None:
    if value is None or value == "-":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise FieldError(name, f"{name}: expected a string, got {type(value).__name__}")


def _int(name: str, value: Any) -> int | None:
    if value is None or value == "-":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    if isinstance(value, float) and value.is_integer() and 0 <= value < 2.0**63:
        return int(value)
    raise FieldError(name, f"{name}: expected an integer, got {str(value)[:40]!r}")


def envoy_record(
    values: dict[str, Any],
    fmt: Format,
    *,
    file: str | None,
    lineno: int,
    pod: str | None,
    namespace: str | None,
    container: str | None,
    roles: RoleMap,
) -> Record:
    """A record from ``values`` keyed by record key (``time`` holds the raw start time).

    Raises ``FieldError`` naming the first field whose value cannot be normalized.
    """
    start = values.get("time")
    if not isinstance(start, str):
        raise FieldError("start_time", "start_time missing")
    try:
        time, ts = parse_time(start)
    except BadTime as exc:
        raise FieldError("start_time", str(exc)) from exc
    strings: dict[str, Any] = {key: _text(key, values.get(key)) for key in ENVOY_STRING_KEYS}
    ints: dict[str, Any] = {key: _int(key, values.get(key)) for key in ENVOY_INT_KEYS}
    raw_flags = values.get("response_flags")
    if raw_flags is not None and not isinstance(raw_flags, str):
        raise FieldError("response_flags", "response_flags: expected a string")
    try:
        flags = parse_flags(raw_flags)
    except BadFlags as exc:
        raise FieldError("response_flags", str(exc)) from exc
    details = strings["response_code_details"]
    role = roles.envoy_role(
        {
            "pod": pod,
            "container": container,
            "namespace": namespace,
            "route_name": strings["route_name"],
            "upstream_cluster": strings["upstream_cluster"],
            "file": file,
        }
    )
    return Record(
        kind="envoy",
        format=fmt,
        time=time,
        ts=ts,
        file=file,
        lineno=lineno,
        pod=pod,
        namespace=namespace,
        container=container,
        role=role,
        signals=envoy_signals(flags, details),
        response_flags=flags,
        reset_reason=reset_reason(details),
        **strings,
        **ints,
    )
