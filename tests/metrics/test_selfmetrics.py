"""The daemon's own health and the correlator's totals, as observable instruments."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from logwatch.clock import ManualClock
from logwatch.daemon_stats import DaemonStats
from logwatch.metrics.cardinality import OVERFLOW
from tests.metrics.conftest import RuntimeFactory, loopback_config
from tests.metrics.support import populated_stats, scrape, totals_by


def test_daemon_stats_are_exported_as_read(make_runtime: RuntimeFactory) -> None:
    stats, correlation = populated_stats()
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stats.checkpoint_unix = now.timestamp() - 12.5
    runtime = make_runtime(stats=stats, clock=ManualClock(now))
    assert runtime.prometheus is not None
    samples = scrape(runtime.prometheus.url)

    def value(name: str) -> float:
        (total,) = totals_by(samples, name).values()
        return total

    assert value("logwatch_input_lines_total") == stats.lines
    assert value("logwatch_input_read_bytes_total") == stats.bytes
    assert value("logwatch_input_records_total") == stats.records
    assert value("logwatch_input_ignored_total") == stats.ignored
    assert value("logwatch_input_too_long_total") == stats.lines_too_long
    assert value("logwatch_input_rotations_total") == stats.rotations
    assert value("logwatch_input_truncations_total") == stats.truncations
    assert value("logwatch_input_lost_bytes_total") == stats.lost_bytes
    assert value("logwatch_input_files") == stats.files_followed
    assert value("logwatch_checkpoint_age_seconds") == 12.5
    assert totals_by(samples, "logwatch_input_malformed_total", "reason") == {
        (reason,): float(n) for reason, n in stats.malformed_by_reason.items()
    }
    assert totals_by(samples, "logwatch_input_lag_bytes", "source") == {
        (source,): float(n) for source, n in stats.lag_bytes.items()
    }
    assert totals_by(samples, "logwatch_alert_deliveries_total", "notifier") == {("slack",): 4.0}
    assert totals_by(samples, "logwatch_alert_delivery_failures_total", "notifier") == {
        ("slack",): 1.0
    }
    assert totals_by(samples, "logwatch_alert_dead_letters_total", "notifier") == {
        ("pagerduty",): 1.0
    }
    # No correlator attached yet: no correlation series at all.
    assert not any(s.name.startswith("logwatch_correlation_") for s in samples)

    runtime.observe_correlation(correlation)
    stats.lines += 30  # later changes are seen at the next collection
    samples = scrape(runtime.prometheus.url)
    assert totals_by(samples, "logwatch_input_lines_total") == {(): 150.0}
    assert totals_by(samples, "logwatch_correlation_joins_total", "kind") == {
        ("request_id",): 10.0,
        ("l4",): 6.0,
    }
    assert totals_by(samples, "logwatch_correlation_hops_total") == {(): 40.0}
    assert totals_by(samples, "logwatch_correlation_paths_total") == {(): 25.0}
    assert totals_by(samples, "logwatch_correlation_ambiguous_total", "kind") == {("l4",): 1.0}
    assert totals_by(samples, "logwatch_correlation_unmatched_total", "kind") == {
        ("ztunnel_outbound",): 2.0
    }
    # Pods are not an attribute: the two waypoint pods add up under one series.
    assert totals_by(samples, "logwatch_correlation_failure_origins_total", "role", "signal") == {
        ("waypoint", "circuit_breaker"): 5.0,
        ("ingress", "rate_limited"): 5.0,
    }


def test_checkpoint_age_absent_before_first_checkpoint(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(stats=DaemonStats())
    assert runtime.prometheus is not None
    names = {s.name for s in scrape(runtime.prometheus.url)}
    assert "logwatch_checkpoint_age_seconds" not in names
    assert "logwatch_input_lines_total" in names


def test_lag_shows_the_largest_sources_and_sums_the_rest(make_runtime: RuntimeFactory) -> None:
    stats = DaemonStats()
    stats.lag_bytes.update({f"/var/log/pods/p{i}/0.log": i for i in range(10)})
    runtime = make_runtime(loopback_config(cardinality={"max_health_keys": 3}), stats=stats)
    assert runtime.prometheus is not None
    lag = totals_by(scrape(runtime.prometheus.url), "logwatch_input_lag_bytes", "source")
    assert lag == {
        ("/var/log/pods/p9/0.log",): 9.0,
        ("/var/log/pods/p8/0.log",): 8.0,
        ("/var/log/pods/p7/0.log",): 7.0,
        (OVERFLOW,): float(sum(range(7))),
    }


def test_scrapes_while_the_daemon_mutates_stats(make_runtime: RuntimeFactory) -> None:
    """Collection runs on the HTTP thread while the event loop writes: no scrape may fail."""
    stats = DaemonStats()
    runtime = make_runtime(stats=stats)
    assert runtime.prometheus is not None
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set() and i < 2_000_000:
            stats.malformed_by_reason[f"reason-{i % 500}"] += 1
            stats.lag_bytes[f"/f/{i % 700}"] = i
            if i % 3 == 0:
                stats.lag_bytes.pop(f"/f/{(i + 1) % 700}", None)
            i += 1

    writer = threading.Thread(target=churn, daemon=True)
    writer.start()
    try:
        for _ in range(10):
            samples = scrape(runtime.prometheus.url)
            assert any(s.name == "logwatch_input_lines_total" for s in samples)
    finally:
        stop.set()
        writer.join(10)
