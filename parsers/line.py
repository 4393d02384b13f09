"""The per-line API: one line (with or without an envelope) -> record, ignored or rejection."""

from __future__ import annotations

from parsers.content import LineContext, ParseResult, parse_unwrapped
from parsers.envelope import open_envelope
from parsers.k8s_path import pod_meta_from_path
from parsers.options import ParseOptions
from parsers.outcome import Rejection, excerpt


def parse_line(
    line: str | bytes,
    *,
    file: str | None = None,
    lineno: int = 1,
    options: ParseOptions | None = None,
) -> ParseResult:
    """Parse one complete line: the exact per-line path, no batching.

    A CRI/docker partial fragment on its own is a rejection (``partial-never-finished``);
    a blank line is ignored. Never raises on bad input.
    """
    raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
    opts = options or ParseOptions()
    if len(raw) > opts.max_line_bytes:
        return Rejection(file, lineno, "line-too-long", excerpt(raw))
    if b"\0" in raw:
        return Rejection(file, lineno, "nul-byte", excerpt(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(file, lineno, "invalid-utf8", excerpt(raw))
    text = text.rstrip("\r\n")
    envelope = open_envelope(text)
    if envelope.partial:
        return Rejection(file, lineno, "partial-never-finished", excerpt(envelope.content))
    ctx = LineContext(file, lineno, pod_meta_from_path(file), opts)
    return parse_unwrapped(envelope.content, text, envelope.kind == "kubectl", ctx)
