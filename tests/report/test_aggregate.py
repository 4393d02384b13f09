"""The report stage gives the same report whatever the batching, buffering and compaction."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.report.aggregate import ReportStage
from logwatch.report.model import InputTotals
from parsers import Record, records_frame

T0 = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)
FLAGS = {
    "-": (),
    "RL": ("rate_limited",),
    "UO": ("circuit_breaker",),
    "UF": ("upstream_connect_failure",),
}

envoy_records = st.builds(
    lambda ms, route, flag, code, duration: Record(
        kind="envoy",
        format="envoy-json",
        time="",
        ts=T0 + timedelta(milliseconds=ms),
        route_name=route,
        upstream_cluster=None if route is None else f"cluster-{route}",
        response_flags=() if flag == "-" else (flag,),
        signals=FLAGS[flag],
        response_code=code,
        duration_ms=duration,
    ),
    st.integers(0, 10 * 60_000),
    st.sampled_from(["a", "b", None]),
    st.sampled_from(list(FLAGS)),
    st.sampled_from([200, 429, 500, 503, 0]),
    st.one_of(st.none(), st.integers(0, 20_000)),
)
ztunnel_records = st.builds(
    lambda ms, error_class, opened: Record(
        kind="ztunnel",
        format="ztunnel-text",
        time="",
        ts=T0 + timedelta(milliseconds=ms),
        message="connection opened" if opened else "connection complete",
        error=None if error_class is None or opened else "boom",
        error_class=None if opened else error_class,
        signals=() if error_class is None or opened else ("connection_error",),
    ),
    st.integers(0, 10 * 60_000),
    st.sampled_from([None, "tls", "policy_denied"]),
    st.booleans(),
)


def build(
    frame: pl.DataFrame, cuts: list[int], batch_rows: int, compact_after: int
) -> dict[str, object]:
    stage = ReportStage(batch_rows=batch_rows, compact_after=compact_after)
    bounds = [0, *sorted(c % (frame.height + 1) for c in cuts), frame.height]
    for start, end in pairwise(bounds):
        if end > start:
            stage.on_records(frame.slice(start, end - start))
    report = stage.report(InputTotals(1, frame.height, frame.height, 0, 0))
    return {
        "json": report.to_json(),
        "route_minutes": report.route_minutes.to_dicts(),
        "ztunnel_minutes": report.ztunnel_minutes.to_dicts(),
        "incidents": report.incidents,
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(envoy_records, ztunnel_records), min_size=1, max_size=120),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.integers(1, 40),
    st.integers(1, 4),
)
def test_batching_and_compaction_do_not_change_the_report(
    records: list[Record], cuts: list[int], batch_rows: int, compact_after: int
) -> None:
    frame = records_frame(records)
    one_pass = build(frame, [], batch_rows=10**9, compact_after=10**9)
    assert build(frame, cuts, batch_rows, compact_after) == one_pass
    # and the one-pass numbers are the plain counts over the records
    doc = one_pass["json"]
    assert isinstance(doc, dict)
    envoy = [r for r in records if r.kind == "envoy"]
    assert sum(route["requests"] for route in doc["routes"]) == len(envoy)
    assert Counter({r["route_name"]: r["rate_limited"] for r in doc["routes"]}) == Counter(
        {
            name: sum("rate_limited" in r.signals for r in envoy if r.route_name == name)
            for name in {r.route_name for r in envoy}
        }
    )
    assert doc["ztunnel"]["connections"] == sum(
        r.kind == "ztunnel" and r.message != "connection opened" for r in records
    )
    assert doc["ztunnel"]["errors"] == sum(r.error is not None for r in records)
