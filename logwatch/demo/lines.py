"""Access-log lines in the formats the real proxies write (see FORMATS.md in the docs):
Envoy Gateway default JSON, Istio's default text format, ztunnel's tab-separated text,
each wrapped in the CRI container-log envelope kubelet's runtime writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson


def rfc3339_ms(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def rfc3339_us(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cri(t: datetime, content: str) -> bytes:
    """One complete CRI record (stdout, tag F); containerd trims trailing zeros of the fraction."""
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}".rstrip("0").ljust(1, "0")
    return f"{stamp}Z stdout F {content}\n".encode()


@dataclass(frozen=True)
class EnvoyRequest:
    start: datetime
    method: str
    path: str
    authority: str
    response_code: int
    response_flags: str  # "-" when none
    details: str
    duration_ms: int
    request_id: str
    user_agent: str
    upstream_host: str | None
    upstream_cluster: str | None
    upstream_local_address: str | None
    downstream_local_address: str
    downstream_remote_address: str
    route_name: str | None
    x_forwarded_for: str | None
    bytes_sent: int


def envoy_gateway_json(r: EnvoyRequest) -> str:
    """Envoy Gateway's default JSON access log: typed values, null for unset, sorted keys."""
    doc = {
        ":authority": r.authority,
        "bytes_received": 0,
        "bytes_sent": r.bytes_sent,
        "connection_termination_details": None,
        "downstream_local_address": r.downstream_local_address,
        "downstream_remote_address": r.downstream_remote_address,
        "duration": r.duration_ms,
        "method": r.method,
        "protocol": "HTTP/1.1",
        "requested_server_name": None,
        "response_code": r.response_code,
        "response_code_details": r.details,
        "response_flags": r.response_flags,
        "route_name": r.route_name,
        "start_time": rfc3339_ms(r.start),
        "upstream_cluster": r.upstream_cluster,
        "upstream_host": r.upstream_host,
        "upstream_local_address": r.upstream_local_address,
        "upstream_transport_failure_reason": None,
        "user-agent": r.user_agent,
        "x-envoy-origin-path": r.path,
        "x-envoy-upstream-service-time": None,
        "x-forwarded-for": r.x_forwarded_for,
        "x-request-id": r.request_id,
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()


def istio_text(r: EnvoyRequest) -> str:
    """Istio's default TEXT access-log format (22 fields)."""

    def dash(value: object) -> str:
        return "-" if value is None else str(value)

    return (
        f'[{rfc3339_ms(r.start)}] "{r.method} {r.path} HTTP/1.1" {r.response_code} '
        f'{r.response_flags} {r.details} - "-" 0 {r.bytes_sent} {r.duration_ms} '
        f"{dash(r.duration_ms if r.response_code and r.response_flags == '-' else None)} "
        f'"{dash(r.x_forwarded_for)}" "{r.user_agent}" "{r.request_id}" "{r.authority}" '
        f'"{dash(r.upstream_host)}" {dash(r.upstream_cluster)} {dash(r.upstream_local_address)} '
        f"{r.downstream_local_address} {r.downstream_remote_address} - {dash(r.route_name)}"
    )


@dataclass(frozen=True)
class ZtunnelConnection:
    closed: datetime
    opened: datetime
    direction: str
    src_addr: str
    src_workload: str
    src_namespace: str
    src_sa: str
    dst_addr: str
    dst_hbone_addr: str
    dst_service: str | None
    dst_workload: str
    dst_namespace: str
    dst_sa: str
    bytes_sent: int
    bytes_recv: int
    error: str | None = None


def ztunnel_text(c: ZtunnelConnection) -> str:
    """ztunnel's access line (1.23+ quoting): TAB-separated header, then k=v fields."""
    level = "error" if c.error else "info"
    duration = int((c.closed - c.opened) / timedelta(milliseconds=1))
    fields = [
        f"src.addr={c.src_addr}",
        f'src.workload="{c.src_workload}"',
        f'src.namespace="{c.src_namespace}"',
        f'src.identity="spiffe://cluster.local/ns/{c.src_namespace}/sa/{c.src_sa}"',
        f"dst.addr={c.dst_addr}",
        f"dst.hbone_addr={c.dst_hbone_addr}",
    ]
    if c.dst_service:
        fields.append(f'dst.service="{c.dst_service}"')
    fields += [
        f'dst.workload="{c.dst_workload}"',
        f'dst.namespace="{c.dst_namespace}"',
        f'dst.identity="spiffe://cluster.local/ns/{c.dst_namespace}/sa/{c.dst_sa}"',
        f'direction="{c.direction}"',
        f"bytes_sent={c.bytes_sent}",
        f"bytes_recv={c.bytes_recv}",
        f'duration="{duration}ms"',
    ]
    if c.error:
        fields.append('error="' + c.error.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return f"{rfc3339_us(c.closed)}\t{level}\taccess\tconnection complete\t{' '.join(fields)}"
