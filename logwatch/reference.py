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
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from logwatch.config import ENV_PREFIX, Config


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> X."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _type_name(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return "section"
        if annotation is timedelta:
            return "duration"
        if annotation is SecretStr:
            return "secret: `{env: NAME}` or `{file: PATH}`"
        return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_type_name(a) for a in args))
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin in (tuple, list, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    return getattr(origin, "__name__", str(origin))


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{value.total_seconds():g}s"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, tuple | list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text.replace("|", "\\|")


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The config models a field holds directly, optionally, or as list items."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list):
        return [
            m for arg in typing.get_args(annotation) if arg is not Ellipsis for m in _models_of(arg)
        ]
    return []


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Comments of the model's own fields and of those it inherits."""
    comments: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            comments.update(_class_field_comments(klass))
    return comments


def _class_field_comments(model: type[BaseModel]) -> dict[str, str]:
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


Row = tuple[str, FieldInfo | None, str, bool]  # key, field, meaning, settable by env


def _walk(model: type[BaseModel], prefix: str, env: bool = True) -> Iterator[Row]:
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        doc = field.description or comments.get(name, "")
        annotation = _unwrap(field.annotation)
        models = _models_of(annotation)
        is_list = typing.get_origin(annotation) in (tuple, list)
        if models and not is_list and len(models) == 1:
            # a section (or an optional one): its keys are the rows
            optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
            if optional:
                yield key, field, doc or "optional section", False
            yield from _walk(models[0], key + ".", env)
            continue
        yield key, field, doc, env
        if models and is_list:
            yield from _walk_items(key, models)


def _walk_items(key: str, models: list[type[BaseModel]]) -> Iterator[Row]:
    """Rows for list items; with several item types (``type: slack``...), the keys every type
    shares are listed once under ``key[]`` and the rest under ``key[type=...]``."""
    if len(models) == 1:
        yield from _walk(models[0], f"{key}[].", False)
        return
    per_type = {m: {row[0]: row for row in _walk(m, ".", False)} for m in models}
    shared = set.intersection(*(set(rows) for rows in per_type.values())) - {".type"}
    first = per_type[models[0]]
    for sub in first:
        if sub in shared:
            yield (f"{key}[]{sub}", *first[sub][1:])
    for model, rows in per_type.items():
        kind = model.model_fields["type"].default
        for sub, row in rows.items():
            if sub not in shared:
                yield (f"{key}[type={kind}]{sub}", *row[1:])


def config_reference() -> str:
    """Every config key: type, default, environment variable and description."""
    rows = [
        "| key | type | default | environment | meaning |",
        "|---|---|---|---|---|",
    ]
    for key, field, doc, settable in _walk(Config, ""):
        env = f"`{ENV_PREFIX}{key.upper().replace('.', '__')}`" if settable else "(in the list)"
        doc = doc.replace("\n", " ").replace("|", "\\|")
        kind = _type_name(field.annotation) if field else ""
        default = f"`{_default(field)}`" if field else ""
        rows.append(f"| `{key}` | {kind} | {default} | {env} | {doc} |")
    return "\n".join(rows)


def generated_blocks() -> dict[str, Callable[[], str]]:
    from logwatch.metrics.reference import render_markdown

    return {"config": config_reference, "metrics": render_markdown}


def _escape_replacement(text: str) -> str:
    return text.replace("\\", "\\\\")


def render_readme(text: str) -> str:
    for name, render in generated_blocks().items():
        # the block between the markers may be empty (nothing but the BEGIN line's newline)
        pattern = re.compile(
            rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", flags=re.DOTALL
        )
        text = pattern.sub(rf"\g<1>{_escape_replacement(render())}\n\g<2>", text)
    return text
