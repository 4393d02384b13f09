"""Envoy JSON access logs: Envoy Gateway (current typed and legacy all-string) and Istio.

Envoy Gateway names keys after headers (``:authority``, ``x-request-id``), Istio uses
underscores (``authority``, ``request_id``); both are mapped to record keys here. Key order is
irrelevant. Unknown keys are ignored (operators add their own).
"""

from __future__ import annotations

# JSON key -> record key, for every key either default format uses.
ENVOY_JSON_KEYS: dict[str, str] = {
    "start_time": "time",
    "method": "method",
    "x-envoy-origin-path": "path",
    "path": "path",
    "protocol": "protocol",
    "response_code": "response_code",
    "response_flags": "response_flags",
    "response_code_details": "response_code_details",
    "connection_termination_details": "connection_termination_details",
    "upstream_transport_failure_reason": "upstream_transport_failure_reason",
    "bytes_received": "bytes_received",
    "bytes_sent": "bytes_sent",
    "duration": "duration_ms",
    "x-envoy-upstream-service-time": "upstream_service_time_ms",
    "upstream_service_time": "upstream_service_time_ms",
    "x-forwarded-for": "x_forwarded_for",
    "x_forwarded_for": "x_forwarded_for",
    "user-agent": "user_agent",
    "user_agent": "user_agent",
    "x-request-id": "request_id",
    "request_id": "request_id",
    ":authority": "authority",
    "authority": "authority",
    "upstream_host": "upstream_host",
    "upstream_cluster": "upstream_cluster",
    "upstream_local_address": "upstream_local_address",
    "downstream_local_address": "downstream_local_address",
    "downstream_remote_address": "downstream_remote_address",
    "requested_server_name": "requested_server_name",
    "route_name": "route_name",
}


def is_envoy_json(obj: dict[str, object]) -> bool:
    """Whether a decoded JSON object is an Envoy access-log entry (it has a start time)."""
    return "start_time" in obj


def envoy_json_values(obj: dict[str, object]) -> dict[str, object]:
    """The object's values keyed by record key (``time`` = raw start time).

    When both names of a value are present (``x-request-id`` and ``request_id``), the first
    non-null one in ``ENVOY_JSON_KEYS`` order wins (Envoy Gateway's name first).
    """
    values: dict[str, object] = {}
    for json_key, record_key in ENVOY_JSON_KEYS.items():
        if json_key in obj and values.get(record_key) is None:
            values[record_key] = obj[json_key]
    return values
