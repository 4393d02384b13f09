"""What a Kafka message value holds, and the log lines or records inside it.

A topic fed by a log shipper carries one of these per message:

* a **raw log line** (or several, newline-separated): an Envoy/ztunnel line, possibly still
  CRI/docker wrapped. Handed to the parsers as is.
* a **Fluent Bit** JSON record: the line in ``log``, Kubernetes metadata in
  ``kubernetes.{pod_name,namespace_name,container_name}`` (kubernetes filter).
* a **Vector** JSON event: the line in ``message``, metadata in
  ``kubernetes.{pod_name,pod_namespace,container_name}`` (kubernetes_logs source); told
  apart from a ztunnel JSON line (which also has ``message``) by ``source_type`` or
  ``kubernetes`` and the absence of ztunnel's ``scope``.
* an **OpenTelemetry Collector** ``otlp_json`` export (kafka exporter): an
  ExportLogsServiceRequest, ``resourceLogs[].scopeLogs[].logRecords[].body.stringValue``,
  with ``k8s.pod.name`` / ``k8s.namespace.name`` / ``k8s.container.name`` among the resource
  (or log record) attributes. One message may hold many lines. The ``raw`` encoding is just a
  raw line.
* a **logwatch record** published by a collector: the public keys as JSON, recognised by the
  ``kind`` and ``format`` headers (or, without headers, by the ``kind``/``format``/``signals``
  keys).

Guarantee: :func:`classify` never raises. A value that declares an envelope but breaks its
shape (invalid JSON in a record, a non-string ``log``, an OTLP export without log bodies,
bytes that are not UTF-8) is returned as :class:`Poison` with a reason, for the dead-letter
topic. A null value (tombstone) is :class:`Empty`. Anything else is treated as raw text and
left to the parsers, which count what they cannot read as malformed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

RECORD_FORMATS = frozenset({"envoy-json", "envoy-text", "ztunnel-text", "ztunnel-json"})
RECORD_KINDS = frozenset({"envoy", "ztunnel"})

# Cheap byte markers: a JSON value without any of them is an access-log line, not an envelope,
# so the hot path (Envoy JSON lines) never pays for a JSON parse here.
ENVELOPE_MARKERS = (b'"log"', b'"message"', b'"resourceLogs"', b'"kind"')


@dataclass(frozen=True, slots=True)
class KubeMeta:
    """Kubernetes coordinates an envelope carries beside the line."""

    pod: str | None = None
    namespace: str | None = None
    container: str | None = None


NO_META = KubeMeta()


@dataclass(frozen=True, slots=True)
class LineGroup:
    """Log lines (without trailing newline) that share one set of metadata."""

    lines: tuple[bytes, ...]
    meta: KubeMeta = NO_META


@dataclass(frozen=True, slots=True)
class RawLines:
    """The lines of one message, in order; an OTLP export mixing pods has several groups."""

    groups: tuple[LineGroup, ...]
    envelope: str = "raw"  # raw | fluent-bit | vector | otlp-json

    @property
    def line_count(self) -> int:
        return sum(len(group.lines) for group in self.groups)


@dataclass(frozen=True, slots=True)
class RecordJson:
    """A logwatch record as published by a collector (JSON object bytes, not yet validated)."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Poison:
    """A message that claims a shape it does not have; goes to the dead-letter topic."""

    reason: str


@dataclass(frozen=True, slots=True)
class Empty:
    """A null value (tombstone): nothing to read."""


Decoded = RawLines | RecordJson | Poison | Empty
Headers = Sequence[tuple[str, bytes]]


def is_record_headers(headers: Headers) -> bool:
    """Headers a logwatch collector sets on every record it publishes."""
    kind = fmt = None
    for name, value in headers:
        if name == "kind":
            kind = value
        elif name == "format":
            fmt = value
    return (
        kind is not None
        and fmt is not None
        and kind.decode("utf-8", "replace") in RECORD_KINDS
        and fmt.decode("utf-8", "replace") in RECORD_FORMATS
    )


def classify(value: bytes | None, headers: Headers = ()) -> Decoded:
    """Decide what ``value`` is (see module docstring). Never raises."""
    if value is None:
        return Empty()
    if headers and is_record_headers(headers):
        return RecordJson(value)
    if value[:1] != b"{" or not any(marker in value for marker in ENVELOPE_MARKERS):
        return _raw(value)
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return _raw(value)  # a truncated access-log line: the parsers count it as malformed
    if not isinstance(document, dict):
        return _raw(value)
    return _classify_object(document, value)


def _raw(value: bytes) -> RawLines | Poison:
    if not value.isascii():  # the common case skips a full decode
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Poison(f"not UTF-8 at byte {exc.start}")
    if b"\n" not in value:
        return RawLines((LineGroup((value,) if value.strip() else ()),))
    return RawLines((LineGroup(tuple(line for line in value.split(b"\n") if line.strip())),))


def _classify_object(document: dict[str, Any], value: bytes) -> Decoded:
    if "resourceLogs" in document:
        return _otlp(document)
    if (
        document.get("kind") in RECORD_KINDS
        and document.get("format") in RECORD_FORMATS
        and "signals" in document
    ):
        return RecordJson(value)
    kube = document.get("kubernetes")
    if "log" in document and "start_time" not in document:
        line = document["log"]
        if not isinstance(line, str):
            return Poison("Fluent Bit record: 'log' is not a string")
        meta = _kube_meta(kube, namespace_key="namespace_name")
        return RawLines((LineGroup(_lines(line), meta),), "fluent-bit")
    is_vector = ("source_type" in document or isinstance(kube, dict)) and "scope" not in document
    if "message" in document and is_vector:
        line = document["message"]
        if not isinstance(line, str):
            return Poison("Vector event: 'message' is not a string")
        meta = _kube_meta(kube, namespace_key="pod_namespace")
        return RawLines((LineGroup(_lines(line), meta),), "vector")
    return _raw(value)  # an Envoy or ztunnel JSON access-log line


def _lines(text: str) -> tuple[bytes, ...]:
    return tuple(line for line in text.encode("utf-8").split(b"\n") if line.strip())


def _kube_meta(kube: Any, namespace_key: str) -> KubeMeta:
    if not isinstance(kube, dict):
        return NO_META
    return KubeMeta(
        pod=_text(kube.get("pod_name")),
        namespace=_text(kube.get(namespace_key)),
        container=_text(kube.get("container_name")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_OTLP_KEYS = {
    "k8s.pod.name": "pod",
    "k8s.namespace.name": "namespace",
    "k8s.container.name": "container",
}


def _otlp_attributes(attributes: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    if not isinstance(attributes, list):
        return found
    for attribute in attributes:
        if not isinstance(attribute, dict):
            continue
        field = _OTLP_KEYS.get(attribute.get("key", ""))
        value = attribute.get("value")
        if field is not None and isinstance(value, dict):
            text = _text(value.get("stringValue"))
            if text is not None:
                found[field] = text
    return found


def _otlp(document: dict[str, Any]) -> RawLines | Poison:
    """Lines of an OTLP logs export grouped by Kubernetes metadata (first-seen order)."""
    resource_logs = document.get("resourceLogs")
    if not isinstance(resource_logs, list):
        return Poison("OTLP export: 'resourceLogs' is not a list")
    groups: dict[KubeMeta, list[bytes]] = {}
    for resource_log in resource_logs:
        if not isinstance(resource_log, dict):
            return Poison("OTLP export: a resourceLogs entry is not an object")
        resource = resource_log.get("resource")
        base = _otlp_attributes(resource.get("attributes") if isinstance(resource, dict) else None)
        scope_logs = resource_log.get("scopeLogs", [])
        if not isinstance(scope_logs, list):
            return Poison("OTLP export: 'scopeLogs' is not a list")
        for scope_log in scope_logs:
            log_records = scope_log.get("logRecords", []) if isinstance(scope_log, dict) else None
            if not isinstance(log_records, list):
                return Poison("OTLP export: 'logRecords' is not a list")
            for log_record in log_records:
                body = log_record.get("body") if isinstance(log_record, dict) else None
                text = body.get("stringValue") if isinstance(body, dict) else None
                if not isinstance(text, str):
                    return Poison("OTLP export: a log record has no string body")
                own = _otlp_attributes(log_record.get("attributes"))
                meta = KubeMeta(**{**base, **own})
                groups.setdefault(meta, []).extend(_lines(text))
    if not groups:
        return Poison("OTLP export: no log records")
    return RawLines(
        tuple(LineGroup(tuple(lines), meta) for meta, lines in groups.items()), "otlp-json"
    )
