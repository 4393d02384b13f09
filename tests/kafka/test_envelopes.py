"""Shipper envelopes through a real topic: Fluent Bit, Vector, OTel Collector otlp_json."""

from __future__ import annotations

from pathlib import Path

import orjson

from logwatch.kafka.envelopes import LineGroup, Poison, RawLines, RecordJson, classify
from logwatch.sinks.file import FileSink
from parsers.stream import StreamDecoder
from tests.kafka.broker import Broker
from tests.kafka.helpers import (
    FIXTURES,
    analyzer,
    kafka_config,
    produce_raw,
    read_ndjson,
    run_until,
)

ENVOY = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[0]
ZTUNNEL_LINES = [
    line for line in (FIXTURES / "ztunnel.log").read_bytes().splitlines() if line.strip()
]


def fluent_bit(line: bytes, pod: str, namespace: str, container: str) -> bytes:
    return orjson.dumps(
        {
            "date": 1752809598.702,
            "log": line.decode(),
            "stream": "stdout",
            "kubernetes": {
                "pod_name": pod,
                "namespace_name": namespace,
                "container_name": container,
                "labels": {"app": "x"},
            },
        }
    )


def vector(line: bytes, pod: str, namespace: str, container: str) -> bytes:
    return orjson.dumps(
        {
            "message": line.decode(),
            "source_type": "kubernetes_logs",
            "stream": "stdout",
            "timestamp": "2025-07-18T03:33:18.702Z",
            "kubernetes": {
                "pod_name": pod,
                "pod_namespace": namespace,
                "container_name": container,
            },
        }
    )


def otlp(lines: list[tuple[bytes, str]], namespace: str) -> bytes:
    """An ExportLogsServiceRequest in OTLP/JSON, one resource per pod."""
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "k8s.pod.name", "value": {"stringValue": pod}},
                            {"key": "k8s.namespace.name", "value": {"stringValue": namespace}},
                            {"key": "k8s.container.name", "value": {"stringValue": "envoy"}},
                        ]
                    },
                    "scopeLogs": [
                        {
                            "scope": {},
                            "logRecords": [
                                {
                                    "timeUnixNano": "1752809598702000000",
                                    "observedTimeUnixNano": "0",
                                    "body": {"stringValue": line.decode()},
                                    "attributes": [],
                                },
                            ],
                        }
                    ],
                }
                for line, pod in lines
            ]
        }
    )


def test_classify_tells_envelopes_from_access_lines() -> None:
    assert classify(ENVOY) == RawLines((LineGroup((ENVOY,)),))
    # a ztunnel JSON line has "message" too, but is not a Vector event
    ztunnel_json = orjson.dumps(
        {
            "level": "info",
            "time": "2025-07-18T03:33:20.718599Z",
            "scope": "access",
            "message": "connection complete",
        }
    )
    assert classify(ztunnel_json) == RawLines((LineGroup((ztunnel_json,)),))
    fluent = classify(fluent_bit(ENVOY, "p", "ns", "envoy"))
    assert isinstance(fluent, RawLines) and fluent.envelope == "fluent-bit"
    assert fluent.groups[0].meta.pod == "p" and fluent.groups[0].lines == (ENVOY,)
    record = orjson.dumps({"kind": "envoy", "format": "envoy-json", "signals": []})
    assert classify(record) == RecordJson(record)
    assert classify(b"x", [("kind", b"envoy"), ("format", b"envoy-json")]) == RecordJson(b"x")
    assert isinstance(classify(b'{"log": 5, "kubernetes": {}}'), Poison)
    assert isinstance(
        classify(b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{}]}]}]}'), Poison
    )
    assert isinstance(classify(b"\xff\xfe bad"), Poison)


async def test_envelopes_become_records_with_their_kubernetes_metadata(
    broker: Broker, tmp_path: Path
) -> None:
    ztunnel = ZTUNNEL_LINES[0]
    values = [
        fluent_bit(ENVOY, "envoy-default-gw-1", "envoy-gateway-system", "envoy"),
        vector(ztunnel, "ztunnel-abcde", "istio-system", "istio-proxy"),
        otlp([(ENVOY, "waypoint-6f7b665c89-6hppr"), (ENVOY, "envoy-default-gw-2")], "default"),
    ]
    produce_raw(broker.bootstrap, "shipped", values, key=b"one-partition")
    out = tmp_path / "records.ndjson"
    sink = FileSink(str(out))

    async def close() -> None:
        sink.close()

    member = analyzer(
        kafka_config(broker.bootstrap), f"kafka://{broker.bootstrap}/shipped?group=g", [sink]
    )
    await run_until([member], lambda: len(read_ndjson(out)) >= 4, 60, "4 records", close)

    got = {(r["pod"], r["namespace"], r["container"], r["kind"]): r for r in read_ndjson(out)}
    assert set(got) == {
        ("envoy-default-gw-1", "envoy-gateway-system", "envoy", "envoy"),
        ("ztunnel-abcde", "istio-system", "istio-proxy", "ztunnel"),
        ("waypoint-6f7b665c89-6hppr", "default", "envoy", "envoy"),
        ("envoy-default-gw-2", "default", "envoy", "envoy"),
    }
    # apart from where it came from, each record is what the parsers make of the bare line
    bare_envoy = StreamDecoder(None).feed(ENVOY + b"\n").records.row(0, named=True)
    for (_pod, _ns, _container, kind), record in got.items():
        if kind == "envoy":
            assert record["request_id"] == bare_envoy["request_id"]
            assert record["response_code"] == bare_envoy["response_code"]
    # the role comes from the pod name, as for a tailed file
    assert got[("waypoint-6f7b665c89-6hppr", "default", "envoy", "envoy")]["role"] == "waypoint"
    assert got[("ztunnel-abcde", "istio-system", "istio-proxy", "ztunnel")]["role"] == "ztunnel"
