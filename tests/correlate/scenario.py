"""Generated ambient-mesh traffic with known ground truth, for correlation tests and the bench.

Topology (bookinfo-like): client -> Envoy Gateway ingress -> frontend pods (HTTP/1.1
keep-alive pool, ztunnel outbound + inbound per connection) -> reviews Service through an
Istio waypoint (frontend keeps one multiplexed connection per VIP, rotated every few
seconds; the waypoint keeps one per backend) -> ratings Service through an Envoy Gateway
based waypoint (sandwich: plain keep-alive pool, exact L4 leg). Every proxy writes its own
CRI file under /var/log/pods, stamped with its node's clock; node clocks disagree by up to
``skew_s``. Ephemeral ports come from a small range so they are reused; a fraction of
ztunnel and waypoint lines is dropped (missing hops).

Ground truth names log lines as ``(file, lineno)``: the exact L4 joins, the ztunnel
outbound <-> inbound pairs, the waypoint downstream / inbound legs, request ids per path and
the expected failure origin of failing requests.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

Line = tuple[str, int]
EPOCH = datetime(2025, 7, 18, 3, 0, 0, tzinfo=UTC)


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
class _Entry:
    write: float
    text: str
    key: int


@dataclass
class _Proxy:
    pod: str
    ip: str
    node: int
    file: str


@dataclass
class _Conn:
    """One tunneled connection: a ztunnel outbound (and usually inbound) line at close."""

    src: _Proxy
    src_port: int
    dst: _Proxy
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


class _Builder:
    def __init__(self, seed: int, skew_s: float, drop_rate: float) -> None:
        self.rng = random.Random(seed)
        self.skew = [0.0] + [self.rng.uniform(-skew_s / 2, skew_s / 2) for _ in range(3)]
        self.drop_rate = drop_rate
        self.entries: dict[str, list[_Entry]] = {}
        self.next_key = 0
        self.dropped: set[int] = set()
        self.truth_keys: dict[str, list[tuple[int, int]]] = {
            "exact": [],
            "pairs": [],
            "downstream": [],
            "inbound": [],
        }
        self.path_keys: dict[str, list[int]] = {}
        self.origins: dict[str, tuple[tuple[str, str, str], list[int]]] = {}
        self.ports: dict[str, list[int]] = {}

    def proxy(self, ns: str, pod: str, container: str, ip: str, node: int) -> _Proxy:
        return _Proxy(pod, ip, node, f"/var/log/pods/{ns}_{pod}_uid{node}/{container}/0.log")

    def ztunnel_file(self, node: int) -> str:
        return f"/var/log/pods/istio-system_ztunnel-n{node}_uidz{node}/istio-proxy/0.log"

    def port(self, ip: str) -> int:
        """An ephemeral port: often one freed recently (reuse), else a random one."""
        free = self.ports.setdefault(ip, [])
        if free and self.rng.random() < 0.5:
            return free.pop(0)
        return self.rng.randint(32768, 32768 + 3000)

    def write(self, file: str, write_true: float, node: int, text: str, droppable: bool) -> int:
        key = self.next_key
        self.next_key += 1
        local = write_true + self.skew[node]
        stamp = _iso(local, 9)
        self.entries.setdefault(file, []).append(_Entry(local, f"{stamp} stdout F {text}", key))
        if droppable and self.rng.random() < self.drop_rate:
            self.dropped.add(key)
        return key

    def finish(self) -> Scenario:
        where: dict[int, Line] = {}
        files: dict[str, list[str]] = {}
        for file, entries in self.entries.items():
            entries.sort(key=lambda e: (e.write, e.key))
            lines = files.setdefault(file, [])
            for entry in entries:
                if entry.key in self.dropped:
                    continue
                lines.append(entry.text)
                where[entry.key] = (file, len(lines))
        truth = Truth()
        for rid, (origin, needs) in self.origins.items():
            if all(key in where for key in needs):
                truth.origins[rid] = origin
        for kind, pairs in self.truth_keys.items():
            target: dict[Line, Line] = getattr(truth, kind)
            for left, right in pairs:
                if left in where and right in where:
                    target[where[left]] = where[right]
        for rid, keys in self.path_keys.items():
            present = {where[k] for k in keys if k in where}
            if present:
                truth.paths[rid] = present
        return Scenario(files, truth)


def _iso(seconds: float, digits: int) -> str:
    moment = EPOCH + timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if digits == 3:
        return text[:-3] + "Z"
    return text + "0" * (digits - 6) + "Z"


def _zt_line(
    conn: _Conn, direction: str, close: float, duration_ms: int, error: str | None, src_port: int
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
    return f"{_iso(close, 6)}\t{level}\taccess\tconnection complete\t{' '.join(fields)}"


def _eg_line(
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
            "start_time": _iso(start, 3),
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


def _istio_line(
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
        f'[{_iso(start, 3)}] "GET /reviews/0 HTTP/1.1" {code} {flags} {details} - "-" 0 358 '
        f'{duration_ms} - "-" "bench" "{rid}" "reviews:9080" "{upstream}" '
        f"inbound-vip|9080|http|reviews.default.svc.cluster.local envoy://internal_client_address/ "
        f"{dla} {dra} - default"
    )


VIP_REVIEWS = "10.96.120.7:9080"
VIP_RATINGS = "10.96.45.12:9080"
ROUTE_INGRESS = "httproute/default/ingress-bookinfo/rule/0/match/0/*"
ROUTE_RATINGS = "httproute/default/ratings/rule/0/match/0/ratings"


class _Mesh:
    """Pods, connection pools and the line writers of one generated run."""

    def __init__(self, b: _Builder) -> None:
        self.b = b
        p = b.proxy
        self.ingress = [
            p(
                "envoy-gateway-system",
                f"envoy-default-bookinfo-ingress-15c0d731-57b6bb576c-{i}",
                "envoy",
                f"10.244.{i}.70",
                i,
            )
            for i in range(2)
        ]
        self.frontends = [
            p("default", f"productpage-v1-54bb874995-{i}", "productpage", f"10.244.{i}.68", i)
            for i in range(4)
        ]
        self.waypoints = [
            p("default", f"waypoint-6f7b665c89-{i}", "istio-proxy", f"10.244.{i + 2}.40", i + 2)
            for i in range(2)
        ]
        self.reviews = [
            p("default", f"reviews-v2-5b667bcbf8-{i}", "reviews", f"10.244.{i + 1}.33", i + 1)
            for i in range(3)
        ]
        self.eg_waypoint = p("default", "waypoint-7cc857d87b-8kv2z", "envoy", "10.244.1.73", 1)
        self.ratings = [
            p("default", f"ratings-v1-7d5d8d5d4c-{i}", "ratings", f"10.244.{i + 2}.31", i + 2)
            for i in range(2)
        ]
        self.keepalive: dict[tuple[str, str], list[_Conn]] = {}
        self.multiplexed: dict[tuple[str, str], tuple[_Conn, float]] = {}
        self.freed: dict[str, list[tuple[int, float]]] = {}

    # -- connections ----------------------------------------------------------------------

    def free_port(self, ip: str, now: float) -> int:
        """Often the port freed longest ago (reuse), else a random one; never a port freed
        less than 10 ms ago (the kernel does not hand those out again that fast)."""
        freed = self.freed.setdefault(ip, [])
        freed.sort(key=lambda item: item[1])
        if freed and freed[0][1] + 0.01 < now and self.b.rng.random() < 0.7:
            return freed.pop(0)[0]
        recent = {port for port, when in freed if when + 0.01 >= now}
        while True:
            port = self.b.rng.randint(32768, 32768 + 3000)
            if port not in recent:
                return port

    def keepalive_conn(self, src: _Proxy, dst: _Proxy, hbone: str, t: float) -> _Conn:
        """HTTP/1.1 pool: an idle connection (closing those idle > 1 s), else a new one."""
        pool = self.keepalive.setdefault((src.pod, dst.pod), [])
        for conn in list(pool):
            if conn.last_end + 1.0 < t:
                pool.remove(conn)
                self.close(conn, conn.last_end + 1.0)
        for conn in pool:
            if conn.last_end <= t:
                return conn
        in_use = {c.src_port for c in pool}
        port = self.free_port(src.ip, t)
        while port in in_use:
            port = self.b.rng.randint(32768, 32768 + 3000)
        conn = _Conn(src, port, dst, hbone, opened=t + 0.0003, limit=self.b.rng.randint(1, 12))
        pool.append(conn)
        return conn

    def keepalive_done(self, conn: _Conn, end: float) -> None:
        conn.last_end = max(conn.last_end, end)
        conn.requests += 1
        if conn.requests >= conn.limit:
            self.keepalive[(conn.src.pod, conn.dst.pod)].remove(conn)
            self.close(conn, conn.last_end + self.b.rng.uniform(0, 0.05))

    def multiplexed_conn(
        self, src: _Proxy, dst: _Proxy, hbone: str, t: float, waypoint_side: str
    ) -> _Conn:
        """One connection per (source, destination), replaced after 3-20 s.

        ``waypoint_side``: ``downstream`` (app -> waypoint: outbound line only) or ``inbound``
        (waypoint -> backend: the waypoint speaks HBONE itself, inbound line only).
        """
        key = (src.pod, dst.pod + hbone)
        current = self.multiplexed.get(key)
        if current is not None and t < current[1]:
            return current[0]
        if current is not None:
            old = current[0]
            self.close(old, max(old.last_end, t - 0.001) + 0.0002)
        conn = _Conn(src, self.free_port(src.ip, t), dst, hbone, opened=t - 0.0005)
        if waypoint_side == "downstream":
            conn.inbound, conn.out_truth = False, "downstream"
        else:
            conn.outbound, conn.out_truth, conn.in_truth = False, None, "inbound"
        self.multiplexed[key] = (conn, t + self.b.rng.uniform(3, 20))
        return conn

    def close(self, conn: _Conn, close: float) -> int:
        """Write the ztunnel line(s) of ``conn`` closing at ``close`` (true time); returns
        the key of the outbound line (-1 without one)."""
        b = self.b
        out_key = -1
        if conn.outbound:
            node = conn.src.node
            duration = int((close - conn.opened) * 1000)
            text = _zt_line(
                conn, "outbound", close + b.skew[node], duration, conn.error, conn.src_port
            )
            out_key = b.write(b.ztunnel_file(node), close, node, text, droppable=True)
            if conn.out_truth is not None:
                b.truth_keys[conn.out_truth].extend((hop, out_key) for hop in conn.hops)
        if conn.inbound:
            node = conn.dst.node
            close_in = close + b.rng.uniform(0, 0.002)
            opened_in = conn.opened + b.rng.uniform(0.0003, 0.001)
            dur_in = max(0, int((close_in - opened_in) * 1000))
            hbone_port = 40000 + conn.src.node * 10 + node
            text = _zt_line(
                conn, "inbound", close_in + b.skew[node], dur_in, conn.inbound_error, hbone_port
            )
            in_key = b.write(b.ztunnel_file(node), close_in, node, text, droppable=True)
            if out_key >= 0:
                b.truth_keys["pairs"].append((out_key, in_key))
            if conn.in_truth is not None:
                b.truth_keys[conn.in_truth].extend((hop, in_key) for hop in conn.hops)
        self.freed.setdefault(conn.src.ip, []).append((conn.src_port, close))
        return out_key

    def close_all(self) -> None:
        for pool in self.keepalive.values():
            for conn in pool:
                self.close(conn, conn.last_end + 1.0)
        for conn, _ in self.multiplexed.values():
            self.close(conn, conn.last_end + 0.5)


def generate(
    requests: int,
    *,
    seed: int = 1,
    rate_per_s: float = 200.0,
    skew_s: float = 1.0,
    drop_rate: float = 0.01,
    failure_rate: float = 1.0,
) -> Scenario:
    """``requests`` ingress requests at ``rate_per_s`` (Poisson); see the module docstring.

    ``failure_rate`` scales the per-request chances of a local rate limit at the ingress
    (0.5 %), a circuit breaker at the Istio waypoint (0.5 %) or at the Envoy Gateway waypoint
    (0.5 %) and an L4 policy denial of the Envoy Gateway waypoint at ratings (0.3 %).
    """
    b = _Builder(seed, skew_s, drop_rate)
    mesh = _Mesh(b)
    rng = b.rng
    t = 0.0
    for _ in range(requests):
        t += rng.expovariate(rate_per_s)
        _request(mesh, t, _failure(rng.random(), failure_rate))
    mesh.close_all()
    return b.finish()


def _failure(draw: float, scale: float) -> str | None:
    for name, upto in (("rl", 0.005), ("wp_uo", 0.010), ("egw_uo", 0.015), ("egw_denied", 0.018)):
        if draw < upto * scale:
            return name
    return None


def _request(mesh: _Mesh, t: float, fail: str | None) -> None:
    b, rng = mesh.b, mesh.b.rng
    rid = "%08x-%04x-4%03x-a%03x-%012x" % (  # noqa: UP031
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(12),
        rng.getrandbits(12),
        rng.getrandbits(48),
    )
    ingress = rng.choice(mesh.ingress)
    front_index = rng.randrange(len(mesh.frontends))
    front = mesh.frontends[front_index]
    client = f"172.18.0.1:{rng.randint(1024, 65535)}"
    listener = f"{ingress.ip}:10080"
    keys: list[int] = []
    b.path_keys[rid] = keys
    if fail == "rl":
        text = _eg_line(
            t + b.skew[ingress.node],
            0,
            429,
            "RL",
            "local_rate_limited",
            rid,
            ROUTE_INGRESS,
            None,
            None,
            client,
            listener,
        )
        keys.append(b.write(ingress.file, t, ingress.node, text, droppable=False))
        b.origins[rid] = (("ingress", ingress.pod, "rate_limited"), [keys[-1]])
        return
    reviews = fail is not None or rng.random() < 0.85
    ratings = fail in ("egw_uo", "egw_denied") or (reviews and fail is None and rng.random() < 0.6)
    d3 = rng.randint(1, 5)
    d2 = 0 if fail == "wp_uo" else (d3 + rng.randint(2, 8) if ratings else rng.randint(2, 8))
    d1 = d2 + rng.randint(3, 15) if reviews else rng.randint(2, 10)
    conn = mesh.keepalive_conn(ingress, front, f"{front.ip}:9080", t)
    text = _eg_line(
        t + b.skew[ingress.node],
        d1,
        200,
        "-",
        "via_upstream",
        rid,
        ROUTE_INGRESS,
        f"{front.ip}:9080",
        f"{ingress.ip}:{conn.src_port}",
        client,
        listener,
    )
    key = b.write(ingress.file, t + d1 / 1000, ingress.node, text, droppable=False)
    conn.hops.append(key)
    keys.append(key)
    mesh.keepalive_done(conn, t + d1 / 1000)
    if not reviews:
        return
    waypoint = mesh.waypoints[front_index % len(mesh.waypoints)]
    t_rv = t + 0.002
    down = mesh.multiplexed_conn(front, waypoint, VIP_REVIEWS, t_rv, "downstream")
    w_start = t_rv + 0.0005
    backend = rng.choice(mesh.reviews)
    up: _Conn | None = None
    if fail == "wp_uo":
        code, flags, details = 503, "UO", "upstream_reset_before_response_started{overflow}"
    else:
        code, flags, details = 200, "-", "via_upstream"
        up = mesh.multiplexed_conn(waypoint, backend, f"{backend.ip}:9080", w_start, "inbound")
    text = _istio_line(
        w_start + b.skew[waypoint.node],
        d2,
        code,
        flags,
        details,
        rid,
        f"{backend.ip}:9080",
        VIP_REVIEWS,
        f"{front.ip}:{47062 + front_index}",
    )
    key = b.write(waypoint.file, w_start + d2 / 1000, waypoint.node, text, droppable=True)
    keys.append(key)
    if fail == "wp_uo":
        b.origins[rid] = (("waypoint", waypoint.pod, "circuit_breaker"), [key])
    down.hops.append(key)
    down.last_end = max(down.last_end, w_start + d2 / 1000 + 0.0005)
    if up is not None:
        up.hops.append(key)
        up.last_end = max(up.last_end, w_start + d2 / 1000)
    if ratings:
        _ratings_call(mesh, rid, backend, w_start + 0.001, d3, fail, keys)


def _ratings_call(
    mesh: _Mesh,
    rid: str,
    caller: _Proxy,
    t_rt: float,
    d3: int,
    fail: str | None,
    keys: list[int],
) -> None:
    b, rng, egw = mesh.b, mesh.b.rng, mesh.eg_waypoint
    down = mesh.multiplexed_conn(caller, egw, VIP_RATINGS, t_rt, "downstream")
    start = t_rt + 0.0005
    target = rng.choice(mesh.ratings)
    upstream = f"{target.ip}:9080"
    conn: _Conn | None = None
    if fail == "egw_uo":
        code, flags, details, local = (
            503,
            "UO",
            "upstream_reset_before_response_started{overflow}",
            None,
        )
        d3 = 0
    elif fail == "egw_denied":
        code, flags = 503, "UC"
        details = "upstream_reset_before_response_started{connection_termination}"
        conn = _Conn(egw, mesh.free_port(egw.ip, start), target, upstream, opened=start + 0.0003)
        conn.error = "http status: 401 Unauthorized"
        conn.inbound_error = (
            "connection closed due to policy rejection: allow policies exist, but none allowed"
        )
        local = f"{egw.ip}:{conn.src_port}"
        d3 = 1
    else:
        code, flags, details = 200, "-", "via_upstream"
        conn = mesh.keepalive_conn(egw, target, upstream, start)
        local = f"{egw.ip}:{conn.src_port}"
    text = _eg_line(
        start + b.skew[egw.node],
        d3,
        code,
        flags,
        details,
        rid,
        ROUTE_RATINGS,
        upstream,
        local,
        f"{caller.ip}:{rng.randint(32768, 60999)}",
        f"{egw.ip}:9080",
    )
    key = b.write(egw.file, start + d3 / 1000, egw.node, text, droppable=True)
    keys.append(key)
    if fail == "egw_uo":
        b.origins[rid] = (("waypoint", egw.pod, "circuit_breaker"), [key])
    down.hops.append(key)
    down.last_end = max(down.last_end, start + d3 / 1000 + 0.0005)
    if conn is not None:
        conn.hops.append(key)
        if fail == "egw_denied":
            out_key = mesh.close(conn, start + 0.0008)
            b.origins[rid] = (("ztunnel", target.pod, "authz_denied"), [key, out_key])
        else:
            mesh.keepalive_done(conn, start + d3 / 1000)
