"""The runtime's lifecycle: binding, paths, shutdown with and without a reachable collector."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from logwatch.daemon_stats import DaemonStats
from logwatch.metrics.config import MetricsConfig
from logwatch.metrics.runtime import build_resource, setup_metrics
from tests.metrics.conftest import RuntimeFactory, loopback_config
from tests.metrics.support import free_port


def test_only_the_configured_path_answers(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(loopback_config(prometheus={"path": "/m"}))
    assert runtime.prometheus is not None
    host, port = runtime.prometheus.address
    assert httpx.get(f"http://{host}:{port}/m", timeout=5).status_code == 200
    assert httpx.get(f"http://{host}:{port}/m?x=1", timeout=5).status_code == 200
    assert httpx.get(f"http://{host}:{port}/metrics", timeout=5).status_code == 404
    response = httpx.get(f"http://{host}:{port}/m", timeout=5)
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_ipv6_loopback_listen(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(loopback_config(prometheus={"listen": "[::1]:0"}))
    assert runtime.prometheus is not None
    assert runtime.prometheus.url.startswith("http://[::1]:")
    assert "logwatch_input_lines_total" in httpx.get(runtime.prometheus.url, timeout=5).text


def test_port_in_use_fails_at_start_and_leaves_nothing_running() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        threads_before = set(threading.enumerate())
        config = loopback_config(prometheus={"listen": f"127.0.0.1:{port}"})
        with pytest.raises(OSError, match=f"metrics endpoint 127.0.0.1:{port}"):
            setup_metrics(config, DaemonStats(), resource_env={})
        time.sleep(0.1)
        leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        assert leftover == []


def test_close_stops_serving_and_is_idempotent(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    assert runtime.prometheus is not None
    url = runtime.prometheus.url
    assert httpx.get(url, timeout=5).status_code == 200
    runtime.close()
    runtime.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_close_is_bounded_when_the_collector_is_down(make_runtime: RuntimeFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1/metrics"  # nothing listens there
    config = loopback_config(
        prometheus={"enabled": False}, otlp={"endpoint": dead, "timeout_s": 1.0}
    )
    runtime = make_runtime(config)
    started = time.monotonic()
    runtime.close()
    assert time.monotonic() - started < 8.0


def test_disabled_metrics_start_nothing(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(
        MetricsConfig.model_validate(
            {"enabled": False, "otlp": {"endpoint": "http://x/v1/metrics"}}
        )
    )
    assert runtime.prometheus is None and runtime.otlp is None


def test_resource_attributes_from_the_downward_api() -> None:
    resource = build_resource(
        {
            "NODE_NAME": "node-a",
            "POD_NAME": "logwatch-1",
            "POD_NAMESPACE": "mesh-observability",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=ignored",
        }
    )
    attributes = dict(resource.attributes)
    assert attributes["service.name"] == "logwatch"
    assert attributes["k8s.node.name"] == "node-a"
    assert attributes["k8s.pod.name"] == "logwatch-1"
    assert attributes["k8s.namespace.name"] == "mesh-observability"
    assert attributes["deployment.environment"] == "prod"
    assert "k8s.node.name" not in dict(build_resource({}).attributes)
    assert (
        dict(build_resource({"OTEL_SERVICE_NAME": "lw-edge"}).attributes)["service.name"]
        == "lw-edge"
    )


@pytest.mark.parametrize("listen", ["9464", "localhost:", ":9464", "host:99999"])
def test_bad_listen_addresses_are_rejected_at_load(listen: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        MetricsConfig.model_validate({"prometheus": {"listen": listen}})
