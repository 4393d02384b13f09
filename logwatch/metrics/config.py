"""Configuration of logwatch.metrics, validated once at load (see logwatch.config).

Two exporters: the embedded Prometheus endpoint (on by default, loopback only unless told
otherwise) and OTLP http/protobuf push (on when an endpoint is configured here or through the
standard ``OTEL_EXPORTER_OTLP_*`` environment; see :mod:`logwatch.metrics.otlp_env`).
Cardinality caps bound the number of distinct values each free-form attribute may take; values
beyond a cap are reported as ``__overflow__``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class PrometheusEndpointConfig(BaseModel):
    """Where the scrape endpoint listens: ``HOST:PORT`` (``[::1]:PORT`` for IPv6); port 0
    picks a free port (tests)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # serve the Prometheus scrape endpoint
    enabled: bool = True
    # HOST:PORT of the endpoint; in a pod use 0.0.0.0:9464 so Prometheus can scrape it (port 0
    # picks a free port)
    listen: str = "127.0.0.1:9464"
    # URL path of the endpoint
    path: str = "/metrics"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("metrics path must start with '/'")
        return value


def split_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); raises ValueError with the offending text."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port_text)


class OtlpConfig(BaseModel):
    """OTLP http/protobuf push. Every field left unset falls back to the standard
    ``OTEL_EXPORTER_OTLP_*`` variable; with no endpoint anywhere, OTLP is off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Full URL of the metrics signal endpoint, e.g. http://collector:4318/v1/metrics.
    endpoint: str | None = None
    # extra request headers (secrets); OTEL_EXPORTER_OTLP_(METRICS_)HEADERS is honoured too
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    # per-export timeout; default from OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT (milliseconds) or 10
    # s
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    # push period; default from OTEL_METRIC_EXPORT_INTERVAL (milliseconds) or 60 s
    export_interval_s: float | None = Field(default=None, gt=0, le=3600)


class CardinalityConfig(BaseModel):
    """Caps on distinct attribute values, per attribute, for the life of the process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # distinct route names kept as label values; later ones fold into __overflow__
    max_routes: int = Field(default=200, ge=1, le=100_000)
    # distinct upstream clusters kept as label values; later ones fold into __overflow__
    max_clusters: int = Field(default=200, ge=1, le=100_000)
    # distinct namespaces kept as label values; later ones fold into __overflow__
    max_namespaces: int = Field(default=100, ge=1, le=100_000)
    # distinct workloads kept as label values; later ones fold into __overflow__
    max_workloads: int = Field(default=500, ge=1, le=100_000)
    # Distinct combinations of response flags ("UF,URX"); real traffic shows a few dozen.
    max_flag_sets: int = Field(default=64, ge=1, le=10_000)
    # Free-form keys of the daemon's own counters (malformed reasons, notifier names, lag
    # sources); these are bounded by construction, the cap is a second line of defence.
    max_health_keys: int = Field(default=1000, ge=1, le=100_000)
    # Last line of defence, enforced by the SDK per metric stream (OTel View limit).
    max_series_per_metric: int = Field(default=20_000, ge=10, le=1_000_000)
    # Longer attribute values are cut to this many characters before folding.
    max_value_length: int = Field(default=256, ge=8, le=4096)


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # export metrics at all (the daemon; replay never does)
    enabled: bool = True
    prometheus: PrometheusEndpointConfig = Field(default_factory=PrometheusEndpointConfig)
    otlp: OtlpConfig = Field(default_factory=OtlpConfig)
    cardinality: CardinalityConfig = Field(default_factory=CardinalityConfig)
