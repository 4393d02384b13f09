"""Where OTLP metrics go: the config section first, then the standard environment.

Variables (OpenTelemetry specification, "OTLP Exporter" configuration):

- ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``: full URL, used as is;
- ``OTEL_EXPORTER_OTLP_ENDPOINT``: base URL, ``/v1/metrics`` is appended;
- ``OTEL_EXPORTER_OTLP_METRICS_HEADERS`` / ``OTEL_EXPORTER_OTLP_HEADERS``: ``k=v,k2=v2``
  (values URL-decoded);
- ``OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT``: **milliseconds**
  as the specification says (default 10 s);
- ``OTEL_METRIC_EXPORT_INTERVAL``: milliseconds (default 60 s);
- ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``: only
  ``http/protobuf`` is supported; anything else is a configuration error, reported at start.

No endpoint anywhere means OTLP is off. Bad numbers raise ``ValueError`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from logwatch.metrics.config import OtlpConfig

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    endpoint: str
    headers: tuple[tuple[str, str], ...]
    timeout_s: float
    export_interval_s: float

    def __repr__(self) -> str:  # headers carry credentials: never print their values
        names = ", ".join(name for name, _ in self.headers)
        return (
            f"OtlpTarget(endpoint={self.endpoint!r}, headers=[{names}], "
            f"timeout_s={self.timeout_s}, export_interval_s={self.export_interval_s})"
        )


def resolve_otlp(config: OtlpConfig, env: Mapping[str, str]) -> OtlpTarget | None:
    endpoint = config.endpoint or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    if not endpoint and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/metrics"
    if not endpoint:
        return None
    protocol = env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise ValueError(f"OTLP protocol {protocol!r} is not supported; use http/protobuf")
    headers = {name.lower(): value.get_secret_value() for name, value in config.headers.items()}
    if not headers:
        headers = parse_headers(
            env.get("OTEL_EXPORTER_OTLP_METRICS_HEADERS")
            or env.get("OTEL_EXPORTER_OTLP_HEADERS", "")
        )
    timeout_s = config.timeout_s or _millis(
        env, ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"), DEFAULT_TIMEOUT_S
    )
    interval_s = config.export_interval_s or _millis(
        env, ("OTEL_METRIC_EXPORT_INTERVAL",), DEFAULT_INTERVAL_S
    )
    return OtlpTarget(endpoint, tuple(sorted(headers.items())), timeout_s, interval_s)


def parse_headers(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (W3C baggage-like, URL-encoded) -> {k: v}; malformed items raise."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"OTLP header {item.strip()!r} is not NAME=VALUE")
        headers[unquote(name).strip().lower()] = unquote(value).strip()
    return headers


def _millis(env: Mapping[str, str], names: tuple[str, ...], default_s: float) -> float:
    for name in names:
        raw = env.get(name)
        if raw:
            try:
                millis = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number of milliseconds") from None
            if millis <= 0:
                raise ValueError(f"{name}={raw!r} must be positive")
            return millis / 1000.0
    return default_s
