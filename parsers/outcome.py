"""What parsing one logical line can give besides a record."""

from __future__ import annotations

from dataclasses import dataclass

# Longest excerpt of offending input kept in a rejection, so a 10 MB line stays a short message.
EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed line that is not an access log (proxy component logs, blank lines)."""

    file: str | None
    lineno: int
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A malformed line: counted and reported, never fatal.

    ``reason`` is a short stable code (``invalid-utf8``, ``nul-byte``, ``truncated-json``,
    ``bad-json``, ``unterminated-quote``, ``line-too-long``, ``partial-never-finished``,
    ``unknown-format``, ``bad-field:<name>``); ``detail`` is a bounded human-readable excerpt.
    """

    file: str | None
    lineno: int
    reason: str
    detail: str


class FieldError(ValueError):
    """A known format whose field ``name`` holds an impossible value."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name


def excerpt(text: str | bytes) -> str:
    """A bounded, printable excerpt of ``text`` for rejection details."""
    if isinstance(text, bytes):
        text = text[: EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")
    short = text[:EXCERPT_CHARS]
    out = short.encode("unicode_escape").decode("ascii") if not short.isprintable() else short
    return out + ("..." if len(text) > EXCERPT_CHARS else "")
