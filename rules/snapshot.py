"""Engine state <-> bytes (JSON), for checkpoints.

Format: ``{"version": 1, "watermark": int, "origin": int|null, "rules": {name: {"digest":
sha256 of the rule definition, "groups": [...], "known": [[key, end], ...]}}}``. Only rules
whose digest matches the current definition are restored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Protocol, TypeVar

import orjson

from rules.compiled import CompiledRule
from rules.evaluate import Group

VERSION = 1
_GROUP_FIELDS = [f.name for f in fields(Group)]


class _State(Protocol):
    groups: dict[tuple[str, ...], Group]
    known: dict[tuple[str, ...], int]
    evaluated_to: int


S = TypeVar("S", bound=_State)


def rule_digest(c: CompiledRule) -> str:
    return hashlib.sha256(c.rule.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


def dump_state(
    compiled: Sequence[CompiledRule],
    states: Mapping[str, _State],
    watermark: int,
    origin: int | None,
    latest: int,
) -> bytes:
    rules: dict[str, Any] = {}
    for c in compiled:
        state = states[c.name]
        rules[c.name] = {
            "digest": rule_digest(c),
            "groups": [_dump_group(g) for g in state.groups.values()],
            "known": [[list(k), v] for k, v in state.known.items()],
            "evaluated_to": state.evaluated_to,
        }
    document = {
        "version": VERSION,
        "watermark": watermark,
        "origin": origin,
        "latest": latest,
        "rules": rules,
    }
    return orjson.dumps(document)


def load_state(
    compiled: Sequence[CompiledRule], data: bytes, make_state: Callable[[], S]
) -> tuple[dict[str, S], int, int | None, int]:
    """Parse a snapshot; ValueError (with the reason) when it is not one of ours."""
    try:
        document = orjson.loads(data)
        if document.get("version") != VERSION:
            raise ValueError(f"unsupported snapshot version {document.get('version')!r}")
        out: dict[str, S] = {}
        for c in compiled:
            saved = document["rules"].get(c.name)
            if saved is None or saved["digest"] != rule_digest(c):
                continue
            state = make_state()
            for raw in saved["groups"]:
                group = _load_group(raw)
                state.groups[group.key] = group
            state.known = {tuple(k): int(v) for k, v in saved["known"]}
            state.evaluated_to = int(saved["evaluated_to"])
            out[c.name] = state
        origin = document["origin"]
        origin_us = None if origin is None else int(origin)
        return out, int(document["watermark"]), origin_us, int(document["latest"])
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a rule engine snapshot: {exc!r}") from None


def _dump_group(group: Group) -> dict[str, Any]:
    raw = {name: getattr(group, name) for name in _GROUP_FIELDS}
    raw["key"] = list(group.key)
    raw["matched"] = [list(b) for b in zip(group.ends, group.matched, group.total, strict=True)]
    del raw["total"], raw["ends"]
    return raw


def _load_group(raw: dict[str, Any]) -> Group:
    buckets = raw.pop("matched")
    raw["key"] = tuple(raw["key"])
    group = Group(**raw)
    for end, matched, total in buckets:
        group.add(int(end), int(matched), int(total))
    return group
