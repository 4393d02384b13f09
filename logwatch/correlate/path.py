"""A request's path through the mesh: ordered Envoy hops, their ztunnel legs, the failure origin.

These are the boundary types of correlation (``logwatch replay --paths``, the sample path on
an alert). ztunnel legs are attached to the hop they carried traffic for; they are never hops
themselves, because ztunnel sees connections, not requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

LegSide = Literal["downstream", "upstream"]
JoinKind = Literal[
    "x_request_id", "l4_exact", "ztunnel_pair", "waypoint_downstream", "waypoint_inbound"
]
JOIN_KINDS: tuple[JoinKind, ...] = (
    "x_request_id",
    "l4_exact",
    "ztunnel_pair",
    "waypoint_downstream",
    "waypoint_inbound",
)


@dataclass(frozen=True, slots=True)
class ZtunnelLeg:
    """One ztunnel connection record joined to a hop.

    ``side`` is ``downstream`` for the connection that brought the request to the hop's proxy
    and ``upstream`` for the ones that carried it on to the next hop. ``confidence`` is 1.0
    for the exact L4 join and lower for approximate ones (see ``logwatch.correlate.approx``).
    """

    side: LegSide
    join: JoinKind
    confidence: float
    direction: str | None
    time: str  # when ztunnel wrote the line: the connection's close
    duration_ms: int | None
    src_addr: str | None
    src_workload: str | None
    dst_addr: str | None
    dst_hbone_addr: str | None
    dst_workload: str | None
    dst_namespace: str | None
    error: str | None
    error_class: str | None
    file: str | None
    lineno: int | None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Hop:
    """One Envoy proxy's record of the request, in path order.

    ``added_latency_ms`` is the time this hop spent outside the next hop: its duration minus
    the next hop's duration, or minus its own upstream service time for the last hop; null
    when unknown. ``join`` says how the hop joined the path (the first hop: ``None``).
    """

    role: str | None
    pod: str | None
    namespace: str | None
    time: str
    duration_ms: int | None
    added_latency_ms: int | None
    method: str | None
    path: str | None
    response_code: int | None
    response_flags: tuple[str, ...]
    response_code_details: str | None
    signals: tuple[str, ...]
    route_name: str | None
    upstream_cluster: str | None
    upstream_host: str | None
    client_workload: str | None
    upstream_workload: str | None
    join: JoinKind | None
    legs: tuple[ZtunnelLeg, ...]
    file: str | None
    lineno: int | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if name == "legs":
                out[name] = [leg.to_json() for leg in value]
            elif isinstance(value, tuple):
                out[name] = list(value)
            else:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class FailureOrigin:
    """Where a failure first appeared: the deepest hop (or ztunnel leg) carrying a signal.

    ``role`` is ``ztunnel`` when the cause is a ztunnel error on a hop's upstream leg (for
    example an L4 policy denial at the destination), and ``pod`` then names the destination
    workload. ``description`` is one human sentence for alerts.
    """

    signal: str
    role: str | None
    pod: str | None
    namespace: str | None
    hop_index: int
    route_name: str | None
    upstream_cluster: str | None
    cause: str | None
    description: str

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class RequestPath:
    """All hops of one request. ``request_id`` is null when the records carried none."""

    request_id: str | None
    hops: tuple[Hop, ...]
    origin: FailureOrigin | None

    @property
    def multi_hop(self) -> bool:
        """Seen by at least two proxies (different pods, or files when no pod is known)."""
        return len({hop.pod or hop.file for hop in self.hops}) >= 2

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "multi_hop": self.multi_hop,
            "hops": [hop.to_json() for hop in self.hops],
            "origin": None if self.origin is None else self.origin.to_json(),
        }
