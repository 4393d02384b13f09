"""OpenTelemetry metrics of what logwatch sees: requests, rate limits, circuit breakers,
ztunnel connections, hop correlation and the daemon's own health.

    from logwatch.metrics import setup_metrics
    runtime = setup_metrics(config.metrics, stats)   # .stage is a RecordStage; .close()

Modules: ``instruments`` (the METRICS table), ``stage`` (records -> one add per attribute
set), ``histogram`` (the batch-fed duration histogram), ``cardinality`` (bounded values),
``views`` (SDK allow-lists), ``selfmetrics`` (observable health), ``exporters`` (Prometheus
endpoint, OTLP reader), ``otlp_env`` (OTEL_* settings), ``reference`` (README table).
``setup_metrics`` and ``MetricsRuntime`` are importable from here but loaded on first use,
so loading the configuration (``logwatch.metrics.config``) does not load OpenTelemetry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logwatch.metrics.runtime import MetricsRuntime, setup_metrics

__all__ = ["MetricsRuntime", "setup_metrics"]


def __getattr__(name: str) -> Any:
    # Loaded on first use (PEP 562): `import logwatch.metrics.config` stays free of OTel.
    if name in __all__:
        from logwatch.metrics import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
