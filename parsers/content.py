"""One logical line (envelope already removed) -> record, ignored or rejection.

This is the exact, per-line path: every format is detected on the line itself, so one stream
may mix formats. The batch path (``parsers.batch``) handles common lines column-wise and sends
everything else here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import orjson

from parsers.envoy_format import BUILTIN_FORMATS, EnvoyTextFormat, compile_format
from parsers.envoy_json import envoy_json_values, is_envoy_json
from parsers.envoy_record import envoy_record
from parsers.k8s_path import PodMeta
from parsers.options import ParseOptions
from parsers.outcome import FieldError, Ignored, Rejection, excerpt
from parsers.record import Record
from parsers.ztunnel_record import ACCESS_MESSAGES, LEVELS, ztunnel_record
from parsers.ztunnel_text import TIMESTAMP_HEAD, UnterminatedQuote, parse_fields

# Envoy's own component log: "[2025-07-18 03:30:12.550][1][info][main] [source/...] ...".
ENVOY_COMPONENT_LOG_PATTERN = (
    r"^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+\]\[[0-9]+\]\[[A-Za-z0-9_]+\]"
)
_ENVOY_COMPONENT_LOG = re.compile(ENVOY_COMPONENT_LOG_PATTERN)
_ZTUNNEL_ACCESS_TARGETS = frozenset({"access", "ztunnel::access"})

ParseResult = Record | Ignored | Rejection


@dataclass(frozen=True, slots=True)
class LineContext:
    """Where a logical line came from, and how to parse it."""

    file: str | None
    lineno: int
    meta: PodMeta | None
    options: ParseOptions

    @property
    def pod(self) -> str | None:
        return self.meta.pod if self.meta else None

    @property
    def namespace(self) -> str | None:
        return self.meta.namespace if self.meta else None

    @property
    def container(self) -> str | None:
        return self.meta.container if self.meta else None

    def reject(self, reason: str, text: str) -> Rejection:
        return Rejection(self.file, self.lineno, reason, excerpt(text))

    def ignore(self, reason: str) -> Ignored:
        return Ignored(self.file, self.lineno, reason)


@functools.lru_cache(maxsize=64)
def text_formats(user_formats: tuple[str, ...]) -> tuple[EnvoyTextFormat, ...]:
    """User formats (compiled once per distinct tuple) followed by the built-in ones."""
    return (*(compile_format(source) for source in user_formats), *BUILTIN_FORMATS)


def parse_content(text: str, ctx: LineContext) -> ParseResult:
    """Parse one logical line. Never raises on bad input."""
    stripped = text.rstrip("\r\n")
    if not stripped.strip():
        return ctx.ignore("blank")
    head = stripped[0]
    try:
        if head == "{":
            return _parse_json(stripped, ctx)
        if TIMESTAMP_HEAD.match(stripped) and "\t" in stripped[:40]:
            return _parse_ztunnel_text(stripped, ctx)
        if _ENVOY_COMPONENT_LOG.match(stripped):
            return ctx.ignore("envoy-component-log")
        return _parse_envoy_text(stripped, ctx)
    except FieldError as exc:
        return ctx.reject(f"bad-field:{exc.name}", f"{exc}: {stripped}")
    except UnterminatedQuote:
        return ctx.reject("unterminated-quote", stripped)
    except RecursionError:
        return ctx.reject("bad-json", stripped)
    except (TypeError, ValueError, KeyError) as exc:
        # A shape no parser anticipated: reported (with its kind) rather than crashing the
        # stream; it is a parser gap to fix, not an input to drop.
        return ctx.reject(f"unparseable:{type(exc).__name__}", f"{exc}: {stripped}")


def _parse_json(text: str, ctx: LineContext) -> ParseResult:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        reason = "bad-json" if text.rstrip().endswith("}") else "truncated-json"
        return ctx.reject(reason, text)
    if not isinstance(obj, dict):
        return ctx.reject("unknown-format", text)
    if is_envoy_json(obj):
        return envoy_record(
            envoy_json_values(obj),
            "envoy-json",
            file=ctx.file,
            lineno=ctx.lineno,
            pod=ctx.pod,
            namespace=ctx.namespace,
            container=ctx.container,
            roles=ctx.options.roles,
        )
    if "level" in obj and "message" in obj and ("time" in obj or "timestamp" in obj):
        return _ztunnel_json(obj, text, ctx)
    return ctx.reject("unknown-format", text)


def _ztunnel_json(obj: dict[str, object], text: str, ctx: LineContext) -> ParseResult:
    target = obj.get("scope", obj.get("target"))
    message = obj.get("message")
    if target is not None and (
        not isinstance(target, str) or target not in _ZTUNNEL_ACCESS_TARGETS
    ):
        return ctx.ignore("ztunnel-operational")
    if target is None and (not isinstance(message, str) or message not in ACCESS_MESSAGES):
        return ctx.ignore("ztunnel-operational")
    time = obj.get("time", obj.get("timestamp"))
    level = obj.get("level")
    if not isinstance(time, str):
        raise FieldError("time", "time is not a string")
    if not isinstance(level, str) or level.lower() not in LEVELS:
        raise FieldError("level", f"unknown level {str(level)[:20]!r}")
    if not isinstance(message, str):
        raise FieldError("message", "message is not a string")
    return ztunnel_record(
        obj,
        "ztunnel-json",
        time=time,
        level=level,
        message=message,
        file=ctx.file,
        lineno=ctx.lineno,
        pod=ctx.pod,
        namespace=ctx.namespace,
        container=ctx.container,
    )


def _parse_ztunnel_text(text: str, ctx: LineContext) -> ParseResult:
    parts = text.split("\t", 4)
    if len(parts) < 4:
        return ctx.reject("unknown-format", text)
    time, level, target, message = parts[:4]
    if level not in LEVELS:
        return ctx.reject("bad-field:level", text)
    if target not in _ZTUNNEL_ACCESS_TARGETS:
        # Operational lines, including span-prefixed targets ("state:proxy{...}").
        return ctx.ignore("ztunnel-operational")
    fields = parse_fields(parts[4] if len(parts) == 5 else "")
    return ztunnel_record(
        fields,
        "ztunnel-text",
        time=time,
        level=level,
        message=message,
        file=ctx.file,
        lineno=ctx.lineno,
        pod=ctx.pod,
        namespace=ctx.namespace,
        container=ctx.container,
    )


def _parse_envoy_text(text: str, ctx: LineContext) -> ParseResult:
    for text_format in text_formats(ctx.options.envoy_text_formats):
        values = text_format.parse(text)
        if values is not None:
            return envoy_record(
                dict(values),
                "envoy-text",
                file=ctx.file,
                lineno=ctx.lineno,
                pod=ctx.pod,
                namespace=ctx.namespace,
                container=ctx.container,
                roles=ctx.options.roles,
            )
    return ctx.reject("unknown-format", text)


def parse_unwrapped(
    content: str, whole_line: str, kubectl_prefixed: bool, ctx: LineContext
) -> ParseResult:
    """Parse ``content`` (the line without its envelope).

    A leading ``<timestamp> `` is ambiguous: a ``kubectl logs --timestamps`` prefix, or the
    start of a user format beginning with ``%START_TIME% ``. The prefix reading wins unless it
    matches no format and the whole line does.
    """
    result = parse_content(content, ctx)
    if kubectl_prefixed and isinstance(result, Rejection) and result.reason == "unknown-format":
        whole = parse_content(whole_line, ctx)
        if not isinstance(whole, Rejection):
            return whole
    return result
