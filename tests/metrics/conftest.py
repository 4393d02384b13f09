"""Fixtures of the metrics tests: runtimes on free ports, a real Prometheus, an OTLP receiver.
Every one of them is stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from logwatch.clock import Clock
from logwatch.daemon_stats import DaemonStats
from logwatch.metrics.config import MetricsConfig
from logwatch.metrics.runtime import MetricsRuntime, setup_metrics
from tests.metrics.support import OtlpReceiver, PrometheusServer

RuntimeFactory = Callable[..., MetricsRuntime]


def loopback_config(**overrides: Any) -> MetricsConfig:
    """A MetricsConfig listening on a free loopback port, with ``overrides`` per section."""
    data: dict[str, Any] = {"prometheus": {"listen": "127.0.0.1:0"}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return MetricsConfig.model_validate(data)


@pytest.fixture
def make_runtime() -> Iterator[RuntimeFactory]:
    runtimes: list[MetricsRuntime] = []

    def make(
        config: MetricsConfig | None = None,
        stats: DaemonStats | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> MetricsRuntime:
        runtime = setup_metrics(
            config or loopback_config(),
            stats or DaemonStats(),
            resource_env=env or {},
            clock=clock,
        )
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    servers: list[PrometheusServer] = []

    def start(targets: list[str], metrics_path: str = "/metrics") -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus-{len(servers)}", targets, metrics_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()
