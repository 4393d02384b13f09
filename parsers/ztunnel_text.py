"""ztunnel plain-text logs (``IstioFormat``): ``ts<TAB>level<TAB>target<TAB>message<TAB>k=v ...``.

Values are bare tokens (``%`` Display: addresses, integers; and, in 1.22, names) or Rust
``Debug`` strings in double quotes with escapes. In 1.22 ``connection failed`` printed
``error=`` unquoted as the last field, so a bare value runs until the next `` key=``.
"""

from __future__ import annotations

import re

from parsers.outcome import FieldError

_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)=")
_NEXT_KEY = re.compile(r" (?=[A-Za-z_][A-Za-z0-9_.]*=)")
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'"}

TIMESTAMP_HEAD = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class UnterminatedQuote(ValueError):
    """A quoted value with no closing quote (a cut line, or not a ztunnel line)."""


def unescape(text: str) -> str:
    """Undo Rust ``Debug`` string escaping (``\\"``, ``\\n``, ``\\u{..}``, ...)."""
    if "\\" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith("u{"):
            code = int(body[2:-1], 16)
            return chr(code) if code <= 0x10FFFF else match.group(0)
        return _SIMPLE_ESCAPES.get(body, match.group(0))

    return _ESCAPE.sub(one, text)


def parse_fields(text: str) -> dict[str, str]:
    """``key=value`` pairs of the fields column, values unescaped.

    Raises ``UnterminatedQuote`` for a quoted value that never closes and ``FieldError`` for
    text that is not a field list.
    """
    fields: dict[str, str] = {}
    position = 0
    end = len(text)
    while position < end:
        if text[position] in " \t":
            position += 1
            continue
        key_match = _KEY.match(text, position)
        if key_match is None:
            raise FieldError("fields", f"expected key=value at {text[position : position + 40]!r}")
        key = key_match.group(1)
        position = key_match.end()
        if position < end and text[position] == '"':
            close = _closing_quote(text, position + 1)
            fields[key] = unescape(text[position + 1 : close])
            position = close + 1
        else:
            following = _NEXT_KEY.search(text, position)
            stop = following.start() if following is not None else end
            fields[key] = text[position:stop].rstrip(" \t")
            position = stop
    return fields


def _closing_quote(text: str, start: int) -> int:
    position = start
    while True:
        quote = text.find('"', position)
        if quote < 0:
            raise UnterminatedQuote("quoted value never closes")
        backslashes = 0
        back = quote - 1
        while back >= start and text[back] == "\\":
            backslashes += 1
            back -= 1
        if backslashes % 2 == 0:
            return quote
        position = quote + 1
