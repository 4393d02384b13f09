"""Safe annotation templates: ``"{labels.route_name} rate limited {events} times"``.

The only syntax is ``{name}`` with a name from a fixed whitelist (``{{`` and ``}}`` are literal
braces). There is no attribute access, indexing, formatting spec or code: a template is split
into literal text and whitelisted field names when the rule is loaded, and an unknown name is
a load error, so rendering can only substitute known strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Fields every template may use, besides labels.<name> of the rule's own labels.
TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {"rule", "severity", "value", "events", "window", "threshold", "starts_at", "ends_at"}
)
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_LABEL = re.compile(r"labels\.([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal strings and field names, alternating."""

    parts: tuple[tuple[bool, str], ...]  # (is_field, text or field name)

    def render(self, values: Mapping[str, str]) -> str:
        """Substitute fields; a field absent from ``values`` renders as the empty string."""
        return "".join(values.get(text, "") if is_field else text for is_field, text in self.parts)


def parse_template(text: str, labels: Iterable[str]) -> Template:
    """Parse ``text``; raise ValueError naming the first field that is not allowed."""
    allowed_labels = set(labels)
    parts: list[tuple[bool, str]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        parts.append((False, text[last : match.start()]))
        last = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append((False, token[0]))
            continue
        if token in ("{", "}"):
            raise ValueError(
                f"unbalanced brace at offset {match.start()} in {text!r} (use {{{{ or }}}})"
            )
        name = match.group(1).strip()
        label = _LABEL.fullmatch(name)
        if label is not None:
            if label.group(1) not in allowed_labels:
                raise ValueError(
                    f"template field {{{name}}}: the rule has no label {label.group(1)!r} "
                    f"(labels: {', '.join(sorted(allowed_labels)) or 'none'})"
                )
        elif name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"template field {{{name}}} is not allowed (use labels.<name> or one of: "
                f"{', '.join(sorted(TEMPLATE_FIELDS))})"
            )
        parts.append((True, name))
    parts.append((False, text[last:]))
    return Template(tuple(p for p in parts if p[0] or p[1]))
