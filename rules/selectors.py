"""Record selectors: which records a rule looks at, compiled to one polars expression.

A selector is a mapping of record field -> condition, all of which must hold::

    where:
      signals: rate_limited                  # the record has this signal (a list: any of them)
      kind: envoy                            # equality
      response_code: {gte: 500, lt: 600}     # comparisons
      route_name: {prefix: "httproute/"}     # prefix (or a list of prefixes)
      upstream_cluster: {regex: "^outbound\\|"}   # regex, evaluated by polars (Rust regex:
                                                  # linear time, no backtracking)
      error_class: [connect_timeout, connection_refused]   # a list means "one of"

Guarantees: every field name and regex is checked when the selector is built (unknown fields
and invalid patterns raise ValueError); evaluation is a polars expression over a whole batch,
never Python per record. A null field never matches (``ne``/``not_in`` included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool


class Condition(BaseModel):
    """Operators on one field; all given operators must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Scalar, ...] | None = None
    prefix: str | tuple[str, ...] | None = None
    regex: str | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None
    # signals only (list columns): any / all / none of these values present
    any: tuple[str, ...] | None = None
    all: tuple[str, ...] | None = None
    none: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs at least one operator")
        if self.regex is not None:
            check_regex(self.regex)
        return self


def check_regex(pattern: str) -> None:
    """Raise ValueError when polars (Rust regex) cannot compile ``pattern``."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.ComputeError as exc:
        raise ValueError(f"invalid regex {pattern!r}: {str(exc).splitlines()[0]}") from None


def parse_condition(raw: Any) -> Condition:
    """The short forms: a scalar means ``eq``, a list means ``in`` (``any`` for list fields)."""
    if isinstance(raw, Condition):
        return raw
    if isinstance(raw, list | tuple):
        return Condition.model_validate({"in": tuple(raw)})
    if isinstance(raw, Mapping):
        return Condition.model_validate(dict(raw))
    return Condition(eq=raw)


def compile_selector(
    conditions: Mapping[str, Condition], schema: Mapping[str, pl.DataType]
) -> pl.Expr:
    """AND of all field conditions as one boolean expression (True when empty).

    Raises ValueError for a field not in ``schema`` or an operator that does not fit the
    field's type (e.g. ``prefix`` on a number, ``any`` on a string).
    """
    expr = pl.lit(True)
    for field, condition in conditions.items():
        if field not in schema:
            known = ", ".join(sorted(schema))
            raise ValueError(f"unknown field {field!r} in selector (known: {known})")
        expr = expr & _compile_field(field, condition, schema[field])
    return expr.fill_null(False)


def _compile_field(field: str, cond: Condition, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(field)
    parts: list[pl.Expr] = []
    if isinstance(dtype, pl.List):
        return _compile_list(field, cond)
    is_text = dtype == pl.String
    if cond.any or cond.all or cond.none:
        raise ValueError(f"{field}: any/all/none apply to list fields (signals, response_flags)")
    if (cond.prefix is not None or cond.regex is not None) and not is_text:
        raise ValueError(f"{field}: prefix/regex need a text field")
    if (cond.gt, cond.gte, cond.lt, cond.lte) != (None,) * 4 and is_text:
        raise ValueError(f"{field}: gt/gte/lt/lte need a numeric field")
    if cond.eq is not None:
        parts.append(col == _typed(field, cond.eq, is_text))
    if cond.ne is not None:
        parts.append(col != _typed(field, cond.ne, is_text))
    if cond.in_ is not None:
        parts.append(col.is_in([_typed(field, v, is_text) for v in cond.in_]))
    if cond.not_in is not None:
        parts.append(
            col.is_not_null() & ~col.is_in([_typed(field, v, is_text) for v in cond.not_in])
        )
    if cond.prefix is not None:
        prefixes = (cond.prefix,) if isinstance(cond.prefix, str) else cond.prefix
        parts.append(pl.any_horizontal([col.str.starts_with(p) for p in prefixes]))
    if cond.regex is not None:
        parts.append(col.str.contains(cond.regex))
    for op, bound in (("gt", cond.gt), ("gte", cond.gte), ("lt", cond.lt), ("lte", cond.lte)):
        if bound is not None:
            parts.append(
                {"gt": col > bound, "gte": col >= bound, "lt": col < bound, "lte": col <= bound}[op]
            )
    if cond.exists is not None:
        parts.append(col.is_not_null() if cond.exists else col.is_null())
    return pl.all_horizontal(parts)


def _compile_list(field: str, cond: Condition) -> pl.Expr:
    col = pl.col(field)
    allowed = {"eq", "in_", "any", "all", "none", "exists"}
    extra = set(cond.model_fields_set) - allowed
    if extra:
        raise ValueError(f"{field}: list field supports eq, in/any, all, none, exists")
    parts: list[pl.Expr] = []
    any_of = [*(cond.any or ()), *(str(v) for v in (cond.in_ or ()))]
    if cond.eq is not None:
        any_of.append(str(cond.eq))
    if any_of:
        parts.append(pl.any_horizontal([col.list.contains(v) for v in any_of]))
    if cond.all:
        parts.append(pl.all_horizontal([col.list.contains(v) for v in cond.all]))
    if cond.none:
        parts.append(~pl.any_horizontal([col.list.contains(v) for v in cond.none]))
    if cond.exists is not None:
        non_empty = col.list.len() > 0
        parts.append(non_empty if cond.exists else ~non_empty)
    return pl.all_horizontal(parts)


def _typed(field: str, value: Scalar, is_text: bool) -> Scalar:
    if is_text:
        return str(value)
    if isinstance(value, str):
        raise ValueError(f"{field}: expected a number, got {value!r}")
    return value
