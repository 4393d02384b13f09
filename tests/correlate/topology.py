"""Shapes of the generated scenario: log-line addresses, truth, pods, connections, and the
renderers that write Envoy Gateway JSON, Istio text and ztunnel lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

Line = tuple[str, int]
EPOCH = datetime(2025, 7, 18, 3, 0, 0, tzinfo=UTC)

VIP_REVIEWS = "10.96.120.7:9080"
VIP_RATINGS = "10.96.45.12:9080"
ROUTE_INGRESS = "httproute/default/ingress-bookinfo/rule/0/match/0/*"
ROUTE_RATINGS = "httproute/default/ratings/rule/0/match/0/ratings"


@dataclass
class Truth:
    exact: dict[Line, Line] = field(default_factory=dict)  # Envoy hop -> ztunnel outbound
    pairs: dict[Line, Line] = field(default_factory=dict)  # ztunnel outbound -> inbound
    downstream: dict[Line, Line] = field(default_factory=dict)  # waypoint hop -> outbound
    inbound: dict[Line, Line] = field(default_factory=dict)  # waypoint hop -> inbound
    paths: dict[str, set[Line]] = field(default_factory=dict)  # x-request-id -> hops
    origins: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id -> role,pod,signal


@dataclass
class Scenario:
    files: dict[str, list[str]]
    truth: Truth

    @property
    def lines(self) -> int:
        return sum(len(lines) for lines in self.files.values())


@dataclass
class Proxy:
    pod: str
    ip: str
    node: int
    file: str


@dataclass
class Conn:
    """One tunneled connection: a ztunnel outbound (and usually inbound) line at close."""

    src: Proxy
    src_port: int
    dst: Proxy
    hbone: str
    opened: float
    last_end: float = 0.0
    requests: int = 0
    limit: int = 1
    hops: list[int] = field(default_factory=list)  # keys of hops carried
    error: str | None = None
    inbound_error: str | None = None
    # which ztunnel lines exist and which truth the carried hops get from them
    outbound: bool = True
    inbound: bool = True
    out_truth: str | None = "exact"
    in_truth: str | None = None


def iso(seconds: float, digits: int) -> str:
    moment = EPOCH + timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if digits == 3:
        return text[:-3] + "Z"
    return text + "0" * (digits - 6) + "Z"


def ztunnel_line(
    conn: Conn, direction: str, close: float, duration_ms: int, error: str | None, src_port: int
) -> str:
    src, dst = conn.src, conn.dst
    fields = [
        f"src.addr={src.ip}:{src_port}",
        f'src.workload="{src.pod}"',
        'src.namespace="default"',
        f'src.identity="spiffe://cluster.local/ns/default/sa/{src.pod.split("-")[0]}"',
        f"dst.addr={dst.ip}:15008",
        f"dst.hbone_addr={conn.hbone}",
        f'dst.workload="{dst.pod}"',
        'dst.namespace="default"',
        f'dst.identity="spiffe://cluster.local/ns/default/sa/{dst.pod.split("-")[0]}"',
        f'direction="{direction}"',
        "bytes_sent=100",
        "bytes_recv=200",
        f'duration="{duration_ms}ms"',
    ]
    if error is not None:
        fields.append(f'error="{error}"')
    level = "error" if error else "info"
    return f"{iso(close, 6)}\t{level}\taccess\tconnection complete\t{' '.join(fields)}"


def eg_line(
    start: float,
    duration_ms: int,
    code: int,
    flags: str,
    details: str,
    rid: str,
    route: str,
    upstream_host: str | None,
    ula: str | None,
    dra: str,
    dla: str,
) -> str:
    return json.dumps(
        {
            ":authority": "bookinfo.example.com",
            "bytes_received": 0,
            "bytes_sent": 512,
            "connection_termination_details": None,
            "downstream_local_address": dla,
            "downstream_remote_address": dra,
            "duration": duration_ms,
            "method": "GET",
            "protocol": "HTTP/1.1",
            "requested_server_name": None,
            "response_code": code,
            "response_code_details": details,
            "response_flags": flags,
            "route_name": route,
            "start_time": iso(start, 3),
            "upstream_cluster": route.rsplit("/match", 1)[0],
            "upstream_host": upstream_host,
            "upstream_local_address": ula,
            "upstream_transport_failure_reason": None,
            "user-agent": "bench",
            "x-envoy-origin-path": "/productpage",
            "x-envoy-upstream-service-time": None,
            "x-forwarded-for": "172.18.0.1",
            "x-request-id": rid,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def istio_line(
    start: float,
    duration_ms: int,
    code: int,
    flags: str,
    details: str,
    rid: str,
    backend: str,
    dla: str,
    dra: str,
) -> str:
    upstream = f"envoy://connect_originate/{backend}" if code != 503 or flags != "UO" else "-"
    return (
        f'[{iso(start, 3)}] "GET /reviews/0 HTTP/1.1" {code} {flags} {details} - "-" 0 358 '
        f'{duration_ms} - "-" "bench" "{rid}" "reviews:9080" "{upstream}" '
        f"inbound-vip|9080|http|reviews.default.svc.cluster.local envoy://internal_client_address/ "
        f"{dla} {dra} - default"
    )
