"""Container-runtime envelopes around a proxy's line: CRI, docker json-file, ``kubectl --timestamps``.

Detected per physical line, so a stream may mix them (and raw, unwrapped lines). CRI is
``<RFC 3339 ts> <stdout|stderr> <P|F>[:tags] <content>`` split on the first three spaces only;
docker is ``{"log": "...\\n", "stream": ..., "time": ...}`` where a ``log`` without a trailing
newline is a partial line; ``kubectl logs --timestamps`` prefixes ``<ts> ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import orjson

# [0-9], not \d: the same pattern runs in Python and in polars (Rust regex, Unicode \d).
TS_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
_CRI = re.compile(TS_PATTERN + r" (stdout|stderr) ([PF])(?::\S*)?(?: |$)", re.ASCII)
_KUBECTL = re.compile(TS_PATTERN + r" (?!stdout |stderr )", re.ASCII)

EnvelopeKind = Literal["raw", "cri", "docker", "kubectl"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """A physical line with its envelope removed.

    ``partial`` means the runtime split a longer line: ``content`` continues in the next
    partial-or-full entry of the same ``stream``.
    """

    kind: EnvelopeKind
    stream: str
    partial: bool
    content: str


def open_envelope(line: str) -> Envelope:
    """The envelope of one physical line (without its newline). Never raises."""
    cri = _CRI.match(line)
    if cri is not None:
        return Envelope("cri", cri.group(1), cri.group(2) == "P", line[cri.end() :])
    if line.startswith('{"log":'):
        docker = _docker(line)
        if docker is not None:
            return docker
    kubectl = _KUBECTL.match(line)
    if kubectl is not None:
        return Envelope("kubectl", "stdout", False, line[kubectl.end() :])
    return Envelope("raw", "stdout", False, line)


def _docker(line: str) -> Envelope | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    log = obj.get("log")
    stream = obj.get("stream", "stdout")
    if not isinstance(log, str) or not isinstance(stream, str):
        return None
    partial = not log.endswith("\n")
    return Envelope("docker", stream, partial, log if partial else log[:-1])
