"""Reference tables for the README, generated from the code so they cannot drift.

``render_readme(text)`` replaces each generated block (between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` markers) with its fresh rendering; a test checks the committed README
is already up to date, and ``scripts/update-readme.py`` rewrites it.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import textwrap
import tokenize
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from logwatch.config import ENV_PREFIX, Config


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin in (list, set, frozenset):
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    return getattr(origin, "__name__", str(origin))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple | list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} entries"
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text.replace("|", "\\|")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``#`` comments of each field in the model's source (the comment lines right above
    it, or a comment ending its line): config models document their fields that way, and
    the reference should say what the code says."""
    try:
        source_lines, _ = inspect.getsourcelines(model)
    except (OSError, TypeError):
        return {}
    text = textwrap.dedent("".join(source_lines))
    comment_at: dict[int, str] = {}
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            comment_at[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.add(token.start[0])
    class_node = ast.parse(text).body[0]
    assert isinstance(class_node, ast.ClassDef)
    comments: dict[str, str] = {}
    for node in class_node.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        block: list[str] = []
        line = node.lineno - 1
        while line in comment_at and line not in code_lines:
            block.insert(0, comment_at[line])
            line -= 1
        trailing = comment_at.get(node.end_lineno or node.lineno)
        if trailing:
            block.append(trailing)
        if block:
            comments[node.target.id] = " ".join(block)
    return comments


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo, str]]:
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from _walk(nested, key + ".")
        else:
            yield key, field, field.description or comments.get(name, "")


def config_reference() -> str:
    """Every config key: type, default, environment variable and description."""
    rows = [
        "| key | type | default | environment | meaning |",
        "|---|---|---|---|---|",
    ]
    for key, field, doc in _walk(Config, ""):
        env = ENV_PREFIX + key.upper().replace(".", "__")
        doc = doc.replace("\n", " ").replace("|", "\\|")
        rows.append(
            f"| `{key}` | {_type_name(field.annotation).replace('|', 'or')} | "
            f"`{_default(field)}` | `{env}` | {doc} |"
        )
    return "\n".join(rows)


def generated_blocks() -> dict[str, Callable[[], str]]:
    from logwatch.metrics.reference import render_markdown

    return {"config": config_reference, "metrics": render_markdown}


def _escape_replacement(text: str) -> str:
    return text.replace("\\", "\\\\")


def render_readme(text: str) -> str:
    for name, render in generated_blocks().items():
        pattern = re.compile(
            rf"(<!-- BEGIN {name} -->\n).*?(\n<!-- END {name} -->)", flags=re.DOTALL
        )
        text = pattern.sub(rf"\g<1>{_escape_replacement(render())}\g<2>", text)
    return text
