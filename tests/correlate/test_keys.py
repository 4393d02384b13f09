"""Key extraction, interval candidates and clock offset learning."""

from __future__ import annotations

import polars as pl

from logwatch.correlate.keys import interval_candidates, ip_of, upstream_target
from logwatch.correlate.skew import ClockOffsets


def test_ip_of_handles_ipv4_ipv6_and_garbage() -> None:
    frame = pl.DataFrame(
        {"a": ["10.0.0.1:80", "[fd00::1]:15008", "envoy://internal_client_address/", None]}
    )
    assert frame.select(ip_of("a"))["a"].to_list() == ["10.0.0.1", "fd00::1", None, None]


def test_upstream_target_unwraps_connect_originate() -> None:
    frame = pl.DataFrame(
        {"upstream_host": ["envoy://connect_originate/10.244.2.33:9080", "10.1.1.1:80"]}
    )
    assert frame.select(upstream_target())["upstream_host"].to_list() == [
        "10.244.2.33:9080",
        "10.1.1.1:80",
    ]


def test_interval_candidates_needs_equal_keys_and_overlap() -> None:
    left = pl.DataFrame(
        {"id": [1, 2, 3], "k": ["a", "a", None], "lo": [0, 50, 0], "hi": [10, 60, 10]}
    )
    right = pl.DataFrame(
        {"id": [7, 8], "k": ["a", "a"], "lo": [5, 2_000_000], "hi": [55, 3_000_000]}
    )
    pairs = interval_candidates(left, right, [("k", "k")], ("lo", "hi"), ("lo", "hi"), 1_000_000)
    assert sorted(pairs.select("id", "id_r").rows()) == [(1, 7), (2, 7)]


def test_clock_offsets_need_a_few_samples_then_follow_them() -> None:
    offsets = ClockOffsets()
    sample = pl.DataFrame({"file": ["a", "a"], "peer": ["b", "b"], "offset_us": [400_000, 402_000]})
    offsets.learn(sample)
    assert offsets.frame().height == 0  # two samples are not enough
    offsets.learn(sample.head(1))
    assert offsets.frame().rows() == [("a", "b", 400_667)]
