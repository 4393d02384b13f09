"""Compile an Envoy access-log format string (``%START_TIME% "%REQ(:METHOD)% ..."``) into a parser.

A format is compiled once into one anchored regular expression: each operator becomes a group
whose pattern stops at the first character of the literal text that follows it (Envoy text
values cannot contain that delimiter in practice: details use ``_`` for spaces, quoted headers
rarely contain ``"``). Operators that map to a record key become named groups; the rest are
matched and discarded.

Limits: a quoted value that itself contains ``"`` does not match its format (the line is then
reported as malformed, not misparsed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_OPERATOR = re.compile(r"%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%")

# Operators without arguments -> record key.
_PLAIN_OPERATORS: dict[str, str] = {
    "START_TIME": "time",
    "PROTOCOL": "protocol",
    "RESPONSE_CODE": "response_code",
    "RESPONSE_FLAGS": "response_flags",
    "RESPONSE_FLAGS_LONG": "response_flags",
    "RESPONSE_CODE_DETAILS": "response_code_details",
    "CONNECTION_TERMINATION_DETAILS": "connection_termination_details",
    "UPSTREAM_TRANSPORT_FAILURE_REASON": "upstream_transport_failure_reason",
    "BYTES_RECEIVED": "bytes_received",
    "BYTES_SENT": "bytes_sent",
    "DURATION": "duration_ms",
    "UPSTREAM_HOST": "upstream_host",
    "UPSTREAM_CLUSTER": "upstream_cluster",
    "UPSTREAM_CLUSTER_RAW": "upstream_cluster",
    "UPSTREAM_LOCAL_ADDRESS": "upstream_local_address",
    "DOWNSTREAM_LOCAL_ADDRESS": "downstream_local_address",
    "DOWNSTREAM_REMOTE_ADDRESS": "downstream_remote_address",
    "REQUESTED_SERVER_NAME": "requested_server_name",
    "ROUTE_NAME": "route_name",
}
# %REQ(header)% -> record key (first header of ``A?B`` decides, case-insensitive).
_REQUEST_HEADERS: dict[str, str] = {
    ":method": "method",
    ":path": "path",
    "x-envoy-original-path": "path",
    ":authority": "authority",
    "host": "authority",
    "x-forwarded-for": "x_forwarded_for",
    "user-agent": "user_agent",
    "x-request-id": "request_id",
}
_RESPONSE_HEADERS: dict[str, str] = {
    "x-envoy-upstream-service-time": "upstream_service_time_ms",
}

ISTIO_TEXT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% '
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% "
    "%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
)
ENVOY_DEFAULT_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n'
)
# The copy of Envoy's default in Envoy Gateway's docs, without the upstream service time.
ENVOY_GATEWAY_DOCS_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" '
    '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n'
)


class BadFormat(ValueError):
    """A format string that cannot be compiled (no operators, or no ``%START_TIME%``)."""


def _record_key(operator: str, argument: str | None) -> str | None:
    if operator in ("REQ", "RESP") and argument:
        header = argument.split("?", 1)[0].strip().lower()
        table = _REQUEST_HEADERS if operator == "REQ" else _RESPONSE_HEADERS
        return table.get(header)
    if operator == "START_TIME" or argument is None:
        return _PLAIN_OPERATORS.get(operator)
    return None


def _strptime_format(envoy_format: str) -> str:
    # Envoy's %1f..%9f are fixed-width fractions; strptime's %f takes up to 6 digits.
    return re.sub(r"%[1-9]?f", "%f", envoy_format)


@dataclass(frozen=True, slots=True)
class EnvoyTextFormat:
    """One compiled format. ``parse`` returns raw values keyed by record key, or ``None``."""

    source: str
    pattern: re.Pattern[str]
    groups: tuple[tuple[str, str], ...]  # (regex group name, record key)
    time_format: str | None  # strptime format of a %START_TIME(...)% argument

    def parse(self, line: str) -> dict[str, str] | None:
        match = self.pattern.fullmatch(line)
        if match is None:
            return None
        values = {key: match.group(group) for group, key in self.groups}
        if self.time_format is not None and "time" in values:
            values["time"] = _custom_time(values["time"], self.time_format)
        return values


def _custom_time(value: str, time_format: str) -> str:
    try:
        parsed = datetime.strptime(value, time_format)
    except ValueError:
        return value  # left for the record builder to reject as bad-field:start_time
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compile_format(source: str) -> EnvoyTextFormat:
    """Compile an Envoy format string. Raises ``BadFormat`` if it cannot yield records."""
    text = source[:-1] if source.endswith("\n") else source
    pieces: list[tuple[str, re.Match[str] | None]] = []
    position = 0
    for match in _OPERATOR.finditer(text):
        pieces.append((text[position : match.start()], None))
        pieces.append(("", match))
        position = match.end()
    pieces.append((text[position:], None))
    regex: list[str] = []
    groups: list[tuple[str, str]] = []
    seen: set[str] = set()
    time_format: str | None = None
    for index, (literal, operator) in enumerate(pieces):
        if operator is None:
            regex.append(re.escape(literal))
            continue
        following = pieces[index + 1][0] if index + 1 < len(pieces) else ""
        value = f"[^{re.escape(following[0])}]*" if following else ".*"
        name, argument = operator.group(1), operator.group(2)
        key = _record_key(name, argument)
        if key is None or key in seen:
            regex.append(f"(?:{value})")
            continue
        seen.add(key)
        group = f"g{len(groups)}"
        groups.append((group, key))
        regex.append(f"(?P<{group}>{value})")
        if name == "START_TIME" and argument:
            time_format = _strptime_format(argument)
    if "time" not in seen:
        raise BadFormat("an Envoy format needs %START_TIME% to place records in time")
    return EnvoyTextFormat(source, re.compile("".join(regex)), tuple(groups), time_format)


BUILTIN_FORMATS: tuple[EnvoyTextFormat, ...] = tuple(
    compile_format(source)
    for source in (ISTIO_TEXT_FORMAT, ENVOY_DEFAULT_FORMAT, ENVOY_GATEWAY_DOCS_FORMAT)
)
