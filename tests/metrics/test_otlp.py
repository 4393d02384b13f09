"""OTLP http/protobuf push to a loopback receiver that decodes the real protobuf."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import SecretStr

from logwatch.metrics.config import OtlpConfig
from logwatch.metrics.otlp_env import parse_headers, resolve_otlp
from tests.metrics.conftest import RuntimeFactory, loopback_config
from tests.metrics.support import (
    FIXTURES,
    OtlpReceiver,
    decode_files,
    expected_counts,
    otlp_points,
    otlp_resource,
)

SAMPLE_FILES = [
    FIXTURES / "envoy-gateway.jsonl",
    FIXTURES / "istio-text.log",
    FIXTURES / "ztunnel.log",
]


def _sum_by(request: object, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    out: Counter[tuple[str, ...]] = Counter()
    for attributes, point in otlp_points(request, name):  # type: ignore[arg-type]
        value = point.count if hasattr(point, "bucket_counts") else point.as_int or point.as_double
        out[tuple(attributes.get(label, "") for label in labels)] += value
    return {key: float(value) for key, value in out.items()}


def test_otlp_export_carries_the_same_numbers(
    otlp_receiver: OtlpReceiver, make_runtime: RuntimeFactory
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret,x-tenant=mesh",
        "NODE_NAME": "kind-worker",
        "POD_NAME": "logwatch-7xk2p",
        "POD_NAMESPACE": "observability",
    }
    runtime = make_runtime(loopback_config(prometheus={"enabled": False}), env=env)
    assert runtime.prometheus is None and runtime.otlp is not None
    records = decode_files(SAMPLE_FILES)
    runtime.stage.on_records(records)
    assert runtime.export_now()
    otlp_receiver.wait_for_requests(1)
    request = otlp_receiver.requests[-1]
    expected = expected_counts(records)

    assert _sum_by(request, "logwatch.requests", "route") == {
        (route,): float(n) for route, n in expected.requests_by_route.items()
    }
    assert _sum_by(request, "logwatch.rate_limited.requests", "route", "scope") == {
        key: float(n) for key, n in expected.rate_limited.items()
    }
    assert _sum_by(request, "logwatch.circuit_breaker.overflows", "upstream_cluster") == {
        (c,): float(n) for c, n in expected.circuit_breaker.items()
    }
    assert _sum_by(request, "logwatch.request.duration", "route") == {
        (r,): float(n) for r, n in expected.durations.items()
    }
    assert _sum_by(request, "logwatch.ztunnel.errors", "error_class") == {
        (c,): float(n) for c, n in expected.ztunnel_errors.items()
    }
    resource = otlp_resource(request)
    assert resource["service.name"] == "logwatch"
    assert resource["k8s.node.name"] == "kind-worker"
    assert resource["k8s.pod.name"] == "logwatch-7xk2p"
    assert resource["k8s.namespace.name"] == "observability"
    headers = otlp_receiver.headers[-1]
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-tenant"] == "mesh"
    assert headers["content-type"] == "application/x-protobuf"

    # close() exports one last time: the final request has the latest totals.
    runtime.stage.on_records(records)
    before = len(otlp_receiver.requests)
    runtime.close()
    runtime.close()  # idempotent
    otlp_receiver.wait_for_requests(before + 1)
    final = otlp_receiver.requests[-1]
    assert _sum_by(final, "logwatch.requests") == {
        (): 2.0 * sum(expected.requests_by_route.values())
    }


def test_periodic_export_from_the_base_endpoint_variable(
    otlp_receiver: OtlpReceiver, make_runtime: RuntimeFactory
) -> None:
    base = otlp_receiver.endpoint.removesuffix("/v1/metrics")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/", "OTEL_METRIC_EXPORT_INTERVAL": "300"}
    runtime = make_runtime(loopback_config(prometheus={"enabled": False}), env=env)
    assert runtime.otlp is not None and runtime.otlp.endpoint == otlp_receiver.endpoint
    runtime.stage.on_records(decode_files([FIXTURES / "envoy-gateway.jsonl"]))
    otlp_receiver.wait_for_requests(2, timeout_s=20.0)  # no explicit export: the timer did it
    assert _sum_by(otlp_receiver.requests[-1], "logwatch.requests") == {(): 23.0}


def test_otlp_settings_resolution() -> None:
    assert resolve_otlp(OtlpConfig(), {}) is None
    target = resolve_otlp(
        OtlpConfig(),
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "9000",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
        },
    )
    assert target is not None
    assert target.endpoint == "http://collector:4318/v1/metrics"
    assert target.timeout_s == 2.5  # the signal-specific variable wins; milliseconds
    assert target.export_interval_s == 60.0
    assert target.headers == (("a", "1"),)
    # The config file wins over the environment; secrets never show in repr.
    explicit = resolve_otlp(
        OtlpConfig(endpoint="http://c:4318/v1/metrics", headers={"Api-Key": SecretStr("k")}),
        {
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://other/v1/metrics",
            "OTEL_EXPORTER_OTLP_HEADERS": "b=2",
        },
    )
    assert explicit is not None
    assert explicit.endpoint == "http://c:4318/v1/metrics"
    assert explicit.headers == (("api-key", "k"),)
    assert "'k'" not in repr(explicit) and "api-key" in repr(explicit)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "not supported"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "-5"}, "must be positive"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "NAME=VALUE"),
    ],
)
def test_bad_otlp_settings_fail_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_otlp(OtlpConfig(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", **env})


def test_header_parsing_decodes_values() -> None:
    assert parse_headers("Authorization=Basic%20YQ==, x=1=2,") == {
        "authorization": "Basic YQ==",
        "x": "1=2",
    }
