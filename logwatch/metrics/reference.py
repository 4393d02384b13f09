"""The metrics reference (README section), generated from ``METRICS`` so it cannot drift."""

from __future__ import annotations

from logwatch.metrics.cardinality import OVERFLOW
from logwatch.metrics.instruments import METRICS

_TYPES = {
    "counter": "counter",
    "observable_counter": "counter",
    "histogram": "histogram",
    "observable_gauge": "gauge",
}


def render_markdown() -> str:
    """A Markdown table: Prometheus name, OTel name, type, unit, labels, meaning."""
    lines = [
        "| Prometheus | OpenTelemetry | type | unit | labels | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for spec in METRICS:
        prometheus = "<br>".join(f"`{name}`" for name in spec.prometheus_names)
        labels = ", ".join(f"`{label}`" for label in spec.prometheus_labels) or "-"
        description = spec.description.replace("|", "\\|")
        lines.append(
            f"| {prometheus} | `{spec.name}` | {_TYPES[spec.kind]} | `{spec.unit}` "
            f"| {labels} | {description} |"
        )
    lines += [
        "",
        "Every series also carries `otel_scope_name`, `otel_scope_version` and "
        "`otel_scope_schema_url`; resource attributes (`service.name`, `k8s.node.name`, "
        "`k8s.pod.name`, `k8s.namespace.name`) are on `target_info` (OTLP: on the resource).",
        f"Routes, clusters, flag sets, namespaces and workloads beyond their configured caps "
        f"are reported as `{OVERFLOW}`; a missing value is the empty string.",
    ]
    return "\n".join(lines) + "\n"
