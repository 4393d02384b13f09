from __future__ import annotations

import time

import polars as pl
import pytest

from parsers.record import RECORD_SCHEMA
from rules.selectors import compile_selector, parse_condition
from tests.rules.factories import batch


def select(where: dict[str, object], frame: pl.DataFrame) -> list[int]:
    expr = compile_selector({k: parse_condition(v) for k, v in where.items()}, RECORD_SCHEMA)
    return frame.with_row_index().filter(expr)["index"].to_list()


FRAME = batch(
    {"t": 0, "route_name": "httproute/a", "response_code": 429, "signals": ["rate_limited"]},
    {
        "t": 1,
        "route_name": "httproute/b",
        "response_code": 503,
        "signals": ["circuit_breaker", "upstream_reset"],
    },
    {"t": 2, "route_name": None, "response_code": 200},
    {"t": 3, "kind": "ztunnel", "error_class": "connect_timeout", "signals": ["connection_error"]},
)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"route_name": "httproute/a"}, [0]),
        ({"route_name": ["httproute/a", "httproute/b"]}, [0, 1]),
        ({"route_name": {"prefix": "httproute/"}}, [0, 1]),
        ({"route_name": {"regex": "/b$"}}, [1]),
        ({"route_name": {"ne": "httproute/a"}}, [1]),  # null never matches
        ({"route_name": {"exists": False}}, [2, 3]),
        ({"response_code": {"gte": 500, "lt": 600}}, [1]),
        ({"response_code": {"not_in": [200, 429]}}, [1]),
        ({"signals": "rate_limited"}, [0]),
        ({"signals": ["rate_limited", "circuit_breaker"]}, [0, 1]),
        ({"signals": {"all": ["circuit_breaker", "upstream_reset"]}}, [1]),
        ({"signals": {"none": ["rate_limited"]}}, [1, 2, 3]),
        ({"signals": {"exists": True}}, [0, 1, 3]),
        ({"kind": "ztunnel", "error_class": ["connect_timeout"]}, [3]),
        ({}, [0, 1, 2, 3]),
    ],
)
def test_selector_semantics(where: dict[str, object], expected: list[int]) -> None:
    assert select(where, FRAME) == expected


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"no_such_field": "x"}, "unknown field 'no_such_field'"),
        ({"response_code": {"prefix": "4"}}, "prefix/regex need a text field"),
        ({"route_name": {"gte": 3}}, "need a numeric field"),
        ({"response_code": "abc"}, "expected a number"),
        ({"signals": {"prefix": "rate"}}, "list field supports"),
        ({"route_name": {"any": ["x"]}}, "any/all/none apply to list fields"),
    ],
)
def test_invalid_selectors_are_rejected(where: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_selector({k: parse_condition(v) for k, v in where.items()}, RECORD_SCHEMA)


def test_invalid_regex_is_rejected_at_load() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        parse_condition({"regex": "(unclosed"})


def test_regex_is_linear_time_on_pathological_input() -> None:
    # (a+)+$ backtracks exponentially in backtracking engines; polars' Rust regex is linear.
    long_value = "a" * 200_000 + "!"
    frame = batch(*[{"t": i, "route_name": long_value} for i in range(20)])
    started = time.perf_counter()
    assert select({"route_name": {"regex": "^(a+)+$"}}, frame) == []
    assert time.perf_counter() - started < 2.0
