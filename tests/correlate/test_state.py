"""State limits: eviction under floods, late records, bounded outputs, lookups, config."""

from __future__ import annotations

import polars as pl
import pydantic
import pytest

from logwatch.correlate import correlator as correlator_module
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.correlator import Correlator
from tests.correlate.records import at, batch, envoy, ztunnel


def test_flood_of_unique_request_ids_stays_bounded_and_counts_evictions() -> None:
    config = CorrelationConfig(max_pending_entries=1000, max_undrained_hops=5000)
    correlator = Correlator(config)
    fed = 0
    for step in range(20):
        rows = [envoy(step + i / 1000, f"flood-{step}-{i}", lineno=fed + i + 1) for i in range(500)]
        correlator.on_records(batch(rows))
        fed += len(rows)
        # all within one second: no watermark could close them, only the limit does
        assert correlator.stats.pending_hops <= 1000
    assert correlator.stats.evictions["paths"] >= fed - 1000
    drained = len(correlator.drain_paths())
    assert correlator.stats.undrained_hops_dropped == fed - 1000 - drained
    assert drained <= 5000
    correlator.finish()
    assert correlator.stats.pending_hops == 0
    assert correlator.stats.hops == fed  # every hop finalized exactly once, none dropped silently


def test_connection_flood_drops_oldest_and_counts() -> None:
    correlator = Correlator(CorrelationConfig(max_pending_entries=200))
    conns = [
        ztunnel(
            i / 100,
            src_addr=f"10.0.0.1:{30000 + i}",
            dst_addr="10.0.0.2:15008",
            dst_hbone_addr="10.0.0.2:80",
            duration_ms=1,
            lineno=i + 1,
        )
        for i in range(500)
    ]
    correlator.on_records(batch(conns))
    assert correlator.stats.pending_connections <= 100
    assert correlator.stats.evictions["connections"] == 400


def _one_request_then_its_connection(correlator: Correlator) -> None:
    correlator.on_records(
        batch(
            [envoy(0, "r1", upstream_local_address="10.0.0.9:40000", upstream_host="10.0.0.2:80")]
        )
    )
    correlator.on_watermark(at(31))
    assert correlator.drain_paths() == []  # 0.005 + 30 s window + 2 s lateness not passed
    correlator.on_records(
        batch(
            [
                ztunnel(
                    0.5,
                    src_addr="10.0.0.9:40000",
                    dst_addr="10.0.0.2:15008",
                    dst_hbone_addr="10.0.0.2:80",
                    duration_ms=900,
                )
            ]
        )
    )


def test_path_waits_for_its_window_then_finalizes_on_watermark() -> None:
    correlator = Correlator(CorrelationConfig(join_window_s=30, allowed_lateness_s=2))
    _one_request_then_its_connection(correlator)
    # two records are few: the next step comes a whole window (30 s) after the last one
    correlator.on_watermark(at(42))
    assert correlator.drain_paths() == []
    correlator.on_watermark(at(62))
    (path,) = correlator.drain_paths()
    assert path.request_id == "r1"
    assert [leg.join for leg in path.hops[0].legs] == ["l4_exact"]


def test_a_replay_steps_by_volume_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(correlator_module, "_STEP_MIN_RECORDS", 3)
    correlator = Correlator(CorrelationConfig(join_window_s=30, allowed_lateness_s=2))
    correlator.step_by_volume()
    _one_request_then_its_connection(correlator)
    correlator.on_watermark(at(200))  # long closed, but one record since the last step
    assert correlator.drain_paths() == []
    correlator.on_records(batch([envoy(300, "r2", lineno=2), envoy(301, "r3", lineno=3)]))
    correlator.on_watermark(at(302))  # three records now
    assert [p.request_id for p in correlator.drain_paths()] == ["r1"]
    assert sorted(p.request_id for p in correlator.finish()) == ["r2", "r3"]


def test_under_load_steps_come_every_third_of_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(correlator_module, "_STEP_MIN_RECORDS", 1)
    correlator = Correlator(CorrelationConfig(join_window_s=30, allowed_lateness_s=2))
    _one_request_then_its_connection(correlator)
    correlator.on_watermark(at(39))  # 8 s after the last step: not yet
    assert correlator.drain_paths() == []
    correlator.on_watermark(at(42))
    (path,) = correlator.drain_paths()
    assert [leg.join for leg in path.hops[0].legs] == ["l4_exact"]


def test_small_batches_wait_and_are_taken_in_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(correlator_module, "_INTAKE_ROWS", 3)
    correlator = Correlator(CorrelationConfig())
    correlator.on_records(batch([envoy(0, "a", lineno=1)]))
    correlator.on_records(batch([envoy(0.1, "b", lineno=2)]))
    assert correlator.stats.pending_hops == 0  # waiting to be taken in
    correlator.on_records(batch([envoy(0.2, "c", lineno=3)]))
    assert correlator.stats.pending_hops == 3
    correlator.on_records(batch([envoy(0.3, "a", lineno=4)]))
    assert correlator.path_for("a") is not None  # a lookup takes in what waits
    assert correlator.stats.pending_hops == 4
    paths = correlator.finish()
    assert sorted((p.request_id, len(p.hops)) for p in paths) == [("a", 2), ("b", 1), ("c", 1)]


def test_late_record_is_counted_and_still_gets_a_path() -> None:
    correlator = Correlator(CorrelationConfig())
    correlator.on_watermark(at(100))
    correlator.on_records(batch([envoy(1, "late")]))
    assert correlator.stats.late_records == 1
    correlator.on_watermark(at(200))
    assert [p.request_id for p in correlator.drain_paths()] == ["late"]


def test_path_for_returns_pending_then_final_path() -> None:
    correlator = Correlator(CorrelationConfig())
    correlator.on_records(
        batch(
            [
                envoy(
                    0,
                    "r2",
                    response_code=503,
                    response_flags=("UO",),
                    signals=("circuit_breaker",),
                    role="waypoint",
                    pod="waypoint-1",
                    route_name="r",
                ),
            ]
        )
    )
    pending = correlator.path_for("r2")
    assert pending is not None and pending.origin is not None
    assert pending.origin.signal == "circuit_breaker"
    assert correlator.path_for("unknown") is None
    correlator.finish()
    final = correlator.path_for("r2")
    assert final is not None and final.to_json()["origin"]["pod"] == "waypoint-1"


def test_hop_metrics_frame_has_one_row_per_finalized_hop() -> None:
    correlator = Correlator(CorrelationConfig())
    correlator.on_records(
        batch(
            [
                envoy(0, "m", duration_ms=20, upstream_service_time_ms=15, pod="gw"),
                envoy(0.001, "m", duration_ms=12, role="waypoint", pod="wp", file="wp.log"),
            ]
        )
    )
    correlator.finish()
    metrics = correlator.drain_hop_metrics()
    assert metrics.sort("hop_index").select("role", "pod", "added_latency_ms").rows() == [
        ("ingress", "gw", 8),
        ("waypoint", "wp", None),
    ]
    assert correlator.drain_hop_metrics().height == 0


def test_disabled_correlator_keeps_nothing() -> None:
    correlator = Correlator(CorrelationConfig(enabled=False))
    correlator.on_records(batch([envoy(0, "x")]))
    correlator.on_watermark(at(100))
    assert correlator.finish() == []
    assert correlator.summary()["hops"] == 0


def test_connection_opened_lines_are_counted_not_joined() -> None:
    correlator = Correlator(CorrelationConfig())
    correlator.on_records(
        batch(
            [
                ztunnel(
                    0, message="connection opened", src_addr="1.1.1.1:1", dst_addr="2.2.2.2:15008"
                )
            ]
        )
    )
    correlator.finish()
    assert correlator.stats.connections_opened_ignored == 1
    assert correlator.stats.connections == 0


@pytest.mark.parametrize(
    "bad",
    [{"join_window_s": 0}, {"max_pending_entries": 10}, {"min_confidence": 2}, {"unknown_key": 1}],
)
def test_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        CorrelationConfig.model_validate(bad)


def test_a_pinned_request_id_cannot_hold_state_forever() -> None:
    correlator = Correlator(CorrelationConfig(join_window_s=5, max_path_age_s=20))
    for second in range(0, 60, 2):
        correlator.on_records(batch([envoy(second, "pinned", lineno=second + 1)]))
        correlator.on_watermark(at(second + 3))
    paths = correlator.drain_paths()
    assert paths and all(p.request_id == "pinned" for p in paths)
    assert correlator.stats.pending_hops <= 12  # at most max_path_age_s worth of hops


def test_records_without_time_are_counted_not_kept() -> None:
    correlator = Correlator(CorrelationConfig())
    records = batch([envoy(0, "timed"), envoy(1, "untimed")])
    records = records.with_columns(
        pl.when(pl.col("request_id") == "untimed").then(None).otherwise(pl.col("ts")).alias("ts")
    )
    correlator.on_records(records)
    assert correlator.stats.records_without_time == 1
    assert [p.request_id for p in correlator.finish()] == ["timed"]


def test_keep_recent_only_buffers_nothing_to_drain_but_still_serves_path_for() -> None:
    correlator = Correlator(CorrelationConfig(max_pending_entries=100, recent_hops=50))
    correlator.keep_recent_only()
    for step in range(10):
        rows = [envoy(step + i / 1000, f"k-{step}-{i}", lineno=i + 1) for i in range(40)]
        correlator.on_records(batch(rows))
    correlator.finish()
    assert correlator.stats.hops == 400  # every hop still finalized and counted
    assert correlator.drain_paths() == []
    assert correlator.drain_hop_metrics().height == 0
    assert correlator.stats.undrained_hops_dropped == 0  # nothing buffered, nothing dropped
    newest = correlator.path_for("k-9-39")
    assert newest is not None and newest.request_id == "k-9-39"
    assert correlator.path_for("k-0-0") is None  # beyond the recent window


def test_keep_recent_only_can_keep_the_hop_metrics() -> None:
    correlator = Correlator(CorrelationConfig())
    correlator.keep_recent_only(hop_metrics=True)
    correlator.on_records(batch([envoy(i, f"h-{i}", lineno=i + 1) for i in range(30)]))
    correlator.finish()
    assert correlator.drain_paths() == []
    assert correlator.drain_hop_metrics().height == 30


def test_compacting_pending_state_keeps_every_value() -> None:
    rows = [envoy(i / 1000, f"c-{i}", lineno=i + 1, route_name=f"route-{i}") for i in range(300)]
    compacting = Correlator(CorrelationConfig(max_pending_entries=100))
    for start in range(0, 300, 30):
        compacting.on_records(batch(rows[start : start + 30]))
    plain = Correlator(CorrelationConfig())
    plain.on_records(batch(rows))
    by_id = {p.request_id: p.to_json() for p in compacting.finish()}
    assert by_id == {p.request_id: p.to_json() for p in plain.finish()}


def test_batches_taken_in_together_may_lack_request_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records without x-request-id get a path key built from file and line; batches taken
    in together are a frame of several chunks, on which that must work too (polars 2.1's
    ``pl.format`` panicked on these very shapes)."""
    monkeypatch.setattr(correlator_module, "_INTAKE_ROWS", 1000)
    correlator = Correlator(CorrelationConfig())
    conn = {"src_addr": "10.0.0.1:1", "dst_addr": "10.0.0.2:15008"}
    correlator.on_records(batch([ztunnel(0, lineno=1, **conn)]))
    correlator.on_records(
        batch(
            [
                envoy(1, None, lineno=2),
                envoy(2, "r1", lineno=3),
                envoy(3, "r2", lineno=4),
                ztunnel(4, lineno=5, **conn),
            ]
        )
    )
    paths = correlator.finish()
    assert sorted((p.request_id or "", p.hops[0].lineno) for p in paths) == [
        ("", 2),
        ("r1", 3),
        ("r2", 4),
    ]


def test_a_step_larger_than_the_output_bound_is_kept_whole() -> None:
    """A reader that drains after every batch (replay --paths) loses no path, however many
    one step finalizes; older undrained steps still go first."""
    correlator = Correlator(CorrelationConfig(max_undrained_hops=10))
    correlator.on_records(batch([envoy(i / 100, f"s-{i}", lineno=i + 1) for i in range(30)]))
    correlator.on_watermark(at(100))
    assert len(correlator.drain_paths()) == 30
    correlator.on_records(batch([envoy(200 + i / 100, f"t-{i}", lineno=i + 1) for i in range(30)]))
    correlator.on_watermark(at(300))
    correlator.on_records(batch([envoy(400 + i / 100, f"u-{i}", lineno=i + 1) for i in range(30)]))
    correlator.on_watermark(at(500))
    assert {p.request_id[0] for p in correlator.drain_paths() if p.request_id} == {"u"}
    assert correlator.stats.undrained_hops_dropped == 30
