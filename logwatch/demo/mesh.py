"""A synthetic bookinfo mesh: an Envoy Gateway ingress, an Istio waypoint for reviews and an
Envoy Gateway waypoint for ratings, on two nodes with a ztunnel each, writing access logs in
the real formats into a fake node log tree, with scripted incidents.

Timeline (seconds from start, scaled by ``Incidents``): a rate limit at the ingress, then a
circuit breaker at the ratings waypoint while the ingress still answers 200.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from logwatch.demo.lines import (
    EnvoyRequest,
    ZtunnelConnection,
    cri,
    envoy_gateway_json,
    istio_text,
    ztunnel_text,
)


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    container: str
    ip: str
    uid: str

    def log_path(self, root: Path) -> Path:
        return root / "pods" / f"{self.namespace}_{self.name}_{self.uid}" / self.container / "0.log"

    def link_path(self, root: Path) -> Path:
        container_id = uuid.uuid5(uuid.NAMESPACE_DNS, self.name).hex * 2
        return (
            root
            / "containers"
            / f"{self.name}_{self.namespace}_{self.container}-{container_id}.log"
        )


INGRESS = Pod(
    "envoy-default-bookinfo-ingress-15c0d731-57b6bb576c-8ltvl",
    "default",
    "envoy",
    "10.244.1.70",
    "5d0f9a3e-1c2b-4e47-9a0d-6f3b2c1d0e9f",
)
WAYPOINT_REVIEWS = Pod(
    "waypoint-6f7b665c89-6hppr",
    "default",
    "istio-proxy",
    "10.244.2.40",
    "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
)
WAYPOINT_RATINGS = Pod(
    "waypoint-7cc857d87b-8kv2z",
    "default",
    "envoy",
    "10.244.1.73",
    "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
)
ZTUNNEL_A = Pod(
    "ztunnel-7xk2p",
    "istio-system",
    "istio-proxy",
    "10.244.1.2",
    "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9",
)
ZTUNNEL_B = Pod(
    "ztunnel-m4q9d",
    "istio-system",
    "istio-proxy",
    "10.244.2.2",
    "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
)
LOGGING_PODS = (INGRESS, WAYPOINT_REVIEWS, WAYPOINT_RATINGS, ZTUNNEL_A, ZTUNNEL_B)

PRODUCTPAGE = ("productpage-v1-54bb874995-kzpnw", "10.244.1.68", "bookinfo-productpage")
REVIEWS = ("reviews-v2-5b667bcbf8-gj7nz", "10.244.2.33", "bookinfo-reviews")
RATINGS = ("ratings-v1-7d5d8d5d4c-x7q2n", "10.244.2.31", "bookinfo-ratings")
INGRESS_SA = "envoy-default-bookinfo-ingress-15c0d731"
INGRESS_ROUTE = "httproute/default/ingress-bookinfo/rule/0/match/0/*"
INGRESS_CLUSTER = "httproute/default/ingress-bookinfo/rule/0"
RATINGS_ROUTE = "httproute/default/ratings/rule/0/match/0/ratings"
RATINGS_CLUSTER = "httproute/default/ratings/rule/0"
REVIEWS_CLUSTER = "inbound-vip|9080|http|reviews.default.svc.cluster.local"


@dataclass(frozen=True)
class Incidents:
    """When each incident runs, in seconds from the start."""

    rate_limit: tuple[float, float] = (8.0, 20.0)
    circuit_breaker: tuple[float, float] = (26.0, 38.0)
    rate_limited_share: float = 0.6
    overflow_share: float = 0.7

    @classmethod
    def scaled(cls, duration_s: float) -> Incidents:
        """The default timeline (made for a one-minute run) stretched to ``duration_s``."""
        base = cls()
        k = duration_s / 60.0
        return cls(
            rate_limit=(base.rate_limit[0] * k, base.rate_limit[1] * k),
            circuit_breaker=(base.circuit_breaker[0] * k, base.circuit_breaker[1] * k),
        )


@dataclass
class _Connection:
    port: int
    opened: datetime
    requests: int = 0
    bytes_sent: int = 0
    bytes_recv: int = 0


class Mesh:
    """Produces one tick's log lines per pod; deterministic for a given seed."""

    def __init__(
        self, start: datetime, *, seed: int = 7, incidents: Incidents | None = None
    ) -> None:
        self.start = start
        self.incidents = incidents or Incidents()
        self._rng = random.Random(seed)
        self._ingress_conn = _Connection(self._port(), start)
        self._ratings_conn = _Connection(self._port(), start)
        self.requests = 0
        self.rate_limited = 0
        self.overflowed = 0

    def _port(self) -> int:
        return self._rng.randrange(32768, 60999)

    def _rid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _active(self, window: tuple[float, float], now: datetime) -> bool:
        elapsed = (now - self.start).total_seconds()
        return window[0] <= elapsed < window[1]

    def tick(self, now: datetime, requests: int) -> dict[Pod, list[bytes]]:
        """``requests`` user requests spread over the second before ``now``."""
        out: dict[Pod, list[bytes]] = {pod: [] for pod in LOGGING_PODS}
        for i in range(requests):
            at = (
                now
                - timedelta(seconds=1)
                + timedelta(seconds=(i + self._rng.random()) / max(requests, 1))
            )
            for pod, line in self._request(at):
                out[pod].append(line)
        return out

    def _request(self, at: datetime) -> Iterator[tuple[Pod, bytes]]:
        self.requests += 1
        rid = self._rid()
        ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        client = f"172.18.0.1:{self._port()}"
        if (
            self._active(self.incidents.rate_limit, at)
            and self._rng.random() < self.incidents.rate_limited_share
        ):
            self.rate_limited += 1
            req = EnvoyRequest(
                start=at,
                method="GET",
                path="/productpage",
                authority="bookinfo.example.com",
                response_code=429,
                response_flags="RL",
                details="local_rate_limited",
                duration_ms=1,
                request_id=rid,
                user_agent=ua,
                upstream_host=None,
                upstream_cluster=INGRESS_CLUSTER,
                upstream_local_address=None,
                downstream_local_address=f"{INGRESS.ip}:10080",
                downstream_remote_address=client,
                route_name=INGRESS_ROUTE,
                x_forwarded_for="172.18.0.1",
                bytes_sent=18,
            )
            yield INGRESS, cri(at, envoy_gateway_json(req))
            return
        overflow = (
            self._active(self.incidents.circuit_breaker, at)
            and self._rng.random() < self.incidents.overflow_share
        )
        pp_ms, rv_ms, rt_ms = (
            self._rng.randint(8, 40),
            self._rng.randint(3, 15),
            self._rng.randint(1, 4),
        )
        # reviews -> ratings through the Envoy Gateway waypoint (which makes its own request id)
        rt_at = at + timedelta(milliseconds=pp_ms // 3 + 2)
        if overflow:
            self.overflowed += 1
            ratings = EnvoyRequest(
                start=rt_at,
                method="GET",
                path="/ratings/0",
                authority="ratings:9080",
                response_code=503,
                response_flags="UO",
                details="upstream_reset_before_response_started{overflow}",
                duration_ms=0,
                request_id=self._rid(),
                user_agent="Go-http-client/1.1",
                upstream_host=f"{RATINGS[1]}:9080",
                upstream_cluster=RATINGS_CLUSTER,
                upstream_local_address=None,
                downstream_local_address=f"{WAYPOINT_RATINGS.ip}:9080",
                downstream_remote_address=f"{REVIEWS[1]}:{self._port()}",
                route_name=RATINGS_ROUTE,
                x_forwarded_for=REVIEWS[1],
                bytes_sent=81,
            )
        else:
            self._ratings_conn.requests += 1
            ratings = EnvoyRequest(
                start=rt_at,
                method="GET",
                path="/ratings/0",
                authority="ratings:9080",
                response_code=200,
                response_flags="-",
                details="via_upstream",
                duration_ms=rt_ms,
                request_id=self._rid(),
                user_agent="Go-http-client/1.1",
                upstream_host=f"{RATINGS[1]}:9080",
                upstream_cluster=RATINGS_CLUSTER,
                upstream_local_address=f"{WAYPOINT_RATINGS.ip}:{self._ratings_conn.port}",
                downstream_local_address=f"{WAYPOINT_RATINGS.ip}:9080",
                downstream_remote_address=f"{REVIEWS[1]}:{self._port()}",
                route_name=RATINGS_ROUTE,
                x_forwarded_for=REVIEWS[1],
                bytes_sent=48,
            )
        yield (
            WAYPOINT_RATINGS,
            cri(rt_at + timedelta(milliseconds=rt_ms), envoy_gateway_json(ratings)),
        )
        # productpage -> reviews through the Istio waypoint (keeps the ingress request id)
        rv_at = at + timedelta(milliseconds=pp_ms // 3)
        reviews = EnvoyRequest(
            start=rv_at,
            method="GET",
            path="/reviews/0",
            authority="reviews:9080",
            response_code=200,
            response_flags="-",
            details="via_upstream",
            duration_ms=rv_ms,
            request_id=rid,
            user_agent="python-requests/2.32.3",
            upstream_host=f"envoy://connect_originate/{REVIEWS[1]}:9080",
            upstream_cluster=REVIEWS_CLUSTER,
            upstream_local_address="envoy://internal_client_address/",
            downstream_local_address="10.96.120.7:9080",
            downstream_remote_address=f"{PRODUCTPAGE[1]}:47062",
            route_name="default",
            x_forwarded_for=None,
            bytes_sent=358 if not overflow else 295,
        )
        yield WAYPOINT_REVIEWS, cri(rv_at + timedelta(milliseconds=rv_ms), istio_text(reviews))
        # the ingress answers 200 either way: productpage renders the page without stars
        conn = self._ingress_conn
        conn.requests += 1
        conn.bytes_sent += 232
        conn.bytes_recv += 5293
        ingress = EnvoyRequest(
            start=at,
            method="GET",
            path="/productpage",
            authority="bookinfo.example.com",
            response_code=200,
            response_flags="-",
            details="via_upstream",
            duration_ms=pp_ms,
            request_id=rid,
            user_agent=ua,
            upstream_host=f"{PRODUCTPAGE[1]}:9080",
            upstream_cluster=INGRESS_CLUSTER,
            upstream_local_address=f"{INGRESS.ip}:{conn.port}",
            downstream_local_address=f"{INGRESS.ip}:10080",
            downstream_remote_address=client,
            route_name=INGRESS_ROUTE,
            x_forwarded_for="172.18.0.1",
            bytes_sent=5293,
        )
        yield INGRESS, cri(at + timedelta(milliseconds=pp_ms), envoy_gateway_json(ingress))
        if conn.requests >= 25:
            yield from self._close_ingress_connection(at + timedelta(milliseconds=pp_ms + 1))
        if self._ratings_conn.requests >= 25:
            yield from self._close_ratings_connection(rt_at + timedelta(milliseconds=rt_ms + 1))

    def _close_ingress_connection(self, closed: datetime) -> Iterator[tuple[Pod, bytes]]:
        conn = self._ingress_conn
        pp_name, pp_ip, pp_sa = PRODUCTPAGE
        outbound = ZtunnelConnection(
            closed=closed,
            opened=conn.opened,
            direction="outbound",
            src_addr=f"{INGRESS.ip}:{conn.port}",
            src_workload=INGRESS.name,
            src_namespace="default",
            src_sa=INGRESS_SA,
            dst_addr=f"{pp_ip}:15008",
            dst_hbone_addr=f"{pp_ip}:9080",
            dst_service=None,
            dst_workload=pp_name,
            dst_namespace="default",
            dst_sa=pp_sa,
            bytes_sent=conn.bytes_sent,
            bytes_recv=conn.bytes_recv,
        )
        inbound = ZtunnelConnection(
            closed=closed,
            opened=conn.opened,
            direction="inbound",
            src_addr=f"{INGRESS.ip}:{self._port()}",
            src_workload=INGRESS.name,
            src_namespace="default",
            src_sa=INGRESS_SA,
            dst_addr=f"{pp_ip}:15008",
            dst_hbone_addr=f"{pp_ip}:9080",
            dst_service="productpage.default.svc.cluster.local",
            dst_workload=pp_name,
            dst_namespace="default",
            dst_sa=pp_sa,
            bytes_sent=conn.bytes_recv,
            bytes_recv=conn.bytes_sent,
        )
        yield ZTUNNEL_A, cri(closed, ztunnel_text(outbound))
        yield ZTUNNEL_A, cri(closed + timedelta(microseconds=150), ztunnel_text(inbound))
        self._ingress_conn = _Connection(self._port(), closed)

    def _close_ratings_connection(self, closed: datetime) -> Iterator[tuple[Pod, bytes]]:
        conn = self._ratings_conn
        rt_name, rt_ip, rt_sa = RATINGS
        outbound = ZtunnelConnection(
            closed=closed,
            opened=conn.opened,
            direction="outbound",
            src_addr=f"{WAYPOINT_RATINGS.ip}:{conn.port}",
            src_workload=WAYPOINT_RATINGS.name,
            src_namespace="default",
            src_sa="waypoint",
            dst_addr=f"{rt_ip}:15008",
            dst_hbone_addr=f"{rt_ip}:9080",
            dst_service=None,
            dst_workload=rt_name,
            dst_namespace="default",
            dst_sa=rt_sa,
            bytes_sent=166 * conn.requests,
            bytes_recv=358 * conn.requests,
        )
        yield ZTUNNEL_A, cri(closed, ztunnel_text(outbound))
        inbound = ZtunnelConnection(
            closed=closed + timedelta(milliseconds=1),
            opened=conn.opened,
            direction="inbound",
            src_addr=f"{WAYPOINT_RATINGS.ip}:{self._port()}",
            src_workload=WAYPOINT_RATINGS.name,
            src_namespace="default",
            src_sa="waypoint",
            dst_addr=f"{rt_ip}:15008",
            dst_hbone_addr=f"{rt_ip}:9080",
            dst_service="ratings.default.svc.cluster.local",
            dst_workload=rt_name,
            dst_namespace="default",
            dst_sa=rt_sa,
            bytes_sent=358 * conn.requests,
            bytes_recv=166 * conn.requests,
        )
        yield ZTUNNEL_B, cri(closed + timedelta(milliseconds=1), ztunnel_text(inbound))
        self._ratings_conn = _Connection(self._port(), closed)


def prepare_tree(root: Path) -> None:
    """Create each pod's log file and its /var/log/containers-style symlink."""
    for pod in LOGGING_PODS:
        path = pod.log_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        link = pod.link_path(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path)
