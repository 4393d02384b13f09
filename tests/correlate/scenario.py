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

from tests.correlate.mesh import Builder, Mesh
from tests.correlate.topology import (
    ROUTE_INGRESS,
    ROUTE_RATINGS,
    VIP_RATINGS,
    VIP_REVIEWS,
    Conn,
    Line,
    Proxy,
    Scenario,
    Truth,
    eg_line,
    istio_line,
)

__all__ = ["Line", "Scenario", "Truth", "generate"]


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
    b = Builder(seed, skew_s, drop_rate)
    mesh = Mesh(b)
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


def _request(mesh: Mesh, t: float, fail: str | None) -> None:
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
        text = eg_line(
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
    text = eg_line(
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
    up: Conn | None = None
    if fail == "wp_uo":
        code, flags, details = 503, "UO", "upstream_reset_before_response_started{overflow}"
    else:
        code, flags, details = 200, "-", "via_upstream"
        up = mesh.multiplexed_conn(waypoint, backend, f"{backend.ip}:9080", w_start, "inbound")
    text = istio_line(
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
    mesh: Mesh,
    rid: str,
    caller: Proxy,
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
    conn: Conn | None = None
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
        conn = Conn(egw, mesh.free_port(egw.ip, start), target, upstream, opened=start + 0.0003)
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
    text = eg_line(
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
