"""Every line of every sample parses to the hand-checked golden records."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from parsers import StreamDecoder, frame_records, parse_line
from parsers.record import Record
from tests.parsers.golden import FIXTURES, GOLDEN, SAMPLES, render


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    out, err = render(sample)
    assert out == (GOLDEN / f"{sample.name}.ndjson").read_text()
    assert err == (GOLDEN / f"{sample.name}.rejections").read_text()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_small_chunks_match_golden(sample: Path) -> None:
    out, err = render(sample, chunk_bytes=1)
    assert out == (GOLDEN / f"{sample.name}.ndjson").read_text()
    assert err == (GOLDEN / f"{sample.name}.rejections").read_text()


def _records(name: str) -> list[Record]:
    decoder = StreamDecoder(name)
    chunk = decoder.feed((FIXTURES / name).read_bytes())
    return frame_records(chunk.records)


def test_envoy_gateway_lines() -> None:
    records = {r.lineno: r for r in _records("envoy-gateway.jsonl")}
    assert len(records) == 23
    first = records[1]
    assert (first.kind, first.format, first.time) == (
        "envoy",
        "envoy-json",
        "2025-07-18T03:33:18.702Z",
    )
    assert first.upstream_local_address == "10.244.1.70:45168"
    assert first.request_id == "2b8e6c1f-6f1e-4f43-9c39-0c1f2a7d9e51"
    assert first.upstream_service_time_ms is None and first.response_flags == ()
    assert first.ts.isoformat() == "2025-07-18T03:33:18.702000+00:00"
    expected = {
        4: (("RL",), ("rate_limited",), "request_rate_limited"),
        5: (("RL",), ("rate_limited",), "local_rate_limited"),
        6: (("UH",), ("no_healthy_upstream",), "no_healthy_upstream"),
        8: (("UF", "URX"), ("retry_limit", "upstream_connect_failure"), None),
        10: (("NR",), ("no_route",), "route_not_found"),
        11: (("DC",), ("downstream_disconnect",), "downstream_remote_disconnect"),
        12: (("UT",), ("upstream_timeout",), "upstream_response_timeout"),
        13: (("UO",), ("circuit_breaker",), "upstream_reset_before_response_started{overflow}"),
        14: (("UC",), ("upstream_reset",), None),
        15: (("UAEX",), ("authz_denied",), "ext_authz_denied"),
        17: (("UO",), ("circuit_breaker",), None),
    }
    for lineno, (flags, signals, details) in expected.items():
        record = records[lineno]
        assert record.response_flags == flags, lineno
        assert record.signals == signals, lineno
        if details is not None:
            assert record.response_code_details == details
    assert records[13].reset_reason == "overflow" and records[13].response_code == 503
    assert records[7].reset_reason == "remote_connection_failure"
    assert records[10].route_name is None and records[10].role is None
    assert records[11].response_code == 0
    assert records[1].role == "ingress"


def test_legacy_all_string_lines_equal_typed_ones() -> None:
    legacy = _records("envoy-gateway-legacy.log")
    typed = {r.request_id: r for r in _records("envoy-gateway.jsonl")}
    assert len(legacy) == 4
    for record in legacy:
        twin = typed[record.request_id]
        for key in (
            "response_code",
            "bytes_sent",
            "duration_ms",
            "response_flags",
            "signals",
            "upstream_local_address",
            "route_name",
            "reset_reason",
        ):
            assert getattr(record, key) == getattr(twin, key), key
        assert record.connection_termination_details is None  # "-" -> null


def test_istio_text_and_json() -> None:
    records = {r.lineno: r for r in _records("istio-text.log")}
    assert all(r.role == "waypoint" for lineno, r in records.items() if lineno != 9)
    assert records[1].upstream_service_time_ms == 8
    assert records[1].downstream_local_address == "10.96.120.7:9080"
    assert records[2].signals == ("circuit_breaker",) and records[2].upstream_host is None
    assert records[3].signals == ("authz_denied",) and records[3].response_flags == ()
    tcp = records[6]
    assert (tcp.method, tcp.path, tcp.protocol, tcp.response_code) == (None, None, None, 0)
    assert tcp.upstream_cluster == "connect_originate"
    assert tcp.upstream_transport_failure_reason == "delayed_connect_error:_Connection_refused"
    assert records[8].signals == ("downstream_disconnect",)
    json_line, text_line = records[10], records[1]
    assert json_line.format == "envoy-json"
    for key in (
        "time",
        "request_id",
        "authority",
        "path",
        "upstream_host",
        "duration_ms",
        "upstream_service_time_ms",
        "upstream_cluster",
        "route_name",
    ):
        assert getattr(json_line, key) == getattr(text_line, key), key


def test_ztunnel_lines() -> None:
    records = {r.lineno: r for r in _records("ztunnel.log")}
    assert set(records) == set(range(1, 35)) - {9, 25, 26, 27, 28, 33}
    first = records[1]
    assert (first.kind, first.format, first.role) == ("ztunnel", "ztunnel-text", "ztunnel")
    assert first.src_addr == "10.244.1.70:45168" and first.dst_hbone_addr == "10.244.1.68:9080"
    assert (first.bytes_sent, first.bytes_recv, first.duration_ms) == (232, 15245, 2022)
    assert first.time == "2025-07-18T03:33:20.718599Z" and first.dst_service is None
    assert records[7].level == "debug" and records[7].message == "connection opened"
    classes = {n: records[n].error_class for n in (8, 10, 11, 12, 13, 14, 16, 17, 18, 21, 24)}
    assert classes == {
        8: "policy_denied",
        10: "policy_denied",
        11: "policy_denied",
        12: "connect_timeout",
        13: "connection_refused",
        14: "upstream_status",
        16: "policy_denied",
        17: "no_healthy_upstream",
        18: "unknown_workload",
        21: "drain",
        24: "no_healthy_upstream",
    }
    assert records[8].signals == ("authz_denied", "connection_error")
    assert records[13].signals == ("connection_error",)
    assert records[19].error is None and records[19].signals == ()
    assert records[22].src_cluster == "Kubernetes" and records[22].dst_cluster == "Kubernetes"
    assert records[23].src_workload == "sleep-bc9998558-bhv5z"  # 1.22 unquoted
    assert records[24].error == "no healthy upstream: 10.96.33.7:5000"  # 1.22 unquoted error
    assert records[29].format == "ztunnel-json" and records[29].bytes_recv == 15245
    assert records[34].level == "info" and records[34].duration_ms == 118  # 1.22 JSON


def test_cri_reassembly_matches_expected_line() -> None:
    path = "/var/log/pods/default_envoy-default-bookinfo-ingress-15c0d731-57b6bb576c-8ltvl_0a1b/envoy/0.log"
    decoder = StreamDecoder(path)
    chunk = decoder.feed((FIXTURES / "cri.log").read_bytes())
    records = frame_records(chunk.records)
    assert chunk.lines == 10 and chunk.ignored == 3 and chunk.rejections == ()
    assert [r.lineno for r in records] == [3, 4, 5, 9, 10]
    expected = parse_line((FIXTURES / "cri-expected-reassembled-line.json").read_bytes())
    assert isinstance(expected, Record)
    split = records[2]
    for key in ("time", "request_id", "user_agent", "path", "upstream_local_address"):
        assert getattr(split, key) == getattr(expected, key), key
    assert (split.pod, split.namespace, split.container) == (
        "envoy-default-bookinfo-ingress-15c0d731-57b6bb576c-8ltvl",
        "default",
        "envoy",
    )
    assert records[1].time == "2025-07-18T03:33:20.115Z"  # payload start_time, not CRI time


def test_docker_reassembly() -> None:
    records = _records("docker-json.log")
    assert len(records) == 2
    assert records[1].request_id == "0c7a3d1e-2d55-4a39-b0a5-4b7fd2f6a0c9"
    assert records[1].lineno == 2


def test_golden_records_are_valid_json_with_all_keys() -> None:
    from parsers import PUBLIC_KEYS

    for golden in GOLDEN.glob("*.ndjson"):
        for line in golden.read_text().splitlines():
            assert tuple(orjson.loads(line)) == PUBLIC_KEYS
