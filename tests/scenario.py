"""A deterministic log scenario with known answers, for tests and benchmarks.

``write_node_scenario`` writes what a Kubernetes node holds under ``/var/log`` for an Envoy
Gateway ingress (EG JSON), an Istio waypoint (Istio text) and ztunnel (ztunnel text), CRI
wrapped under ``pods/`` with the ``containers/`` symlinks, optionally kubelet-rotated and
gzipped, with a CRI ``P``/``F`` record straddling each rotation, plus non-access lines and a
few malformed ones. ``write_eg_jsonl`` writes one raw EG JSON file (benchmarks, stdin).
Both return a ``Truth``: every count the replay report must show, computed here while writing,
independently of logwatch.
"""

from __future__ import annotations

import bisect
import gzip
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import orjson

START = datetime(2025, 7, 18, 3, 0, 0, tzinfo=UTC)

EG_ROUTES = {
    "httproute/shop/frontend/rule/0/match/0/*": "httproute/shop/frontend/rule/0",
    "httproute/shop/checkout/rule/0/match/0/shop_example_com": "httproute/shop/checkout/rule/0",
    "httproute/shop/search/rule/1/match/0/*": "httproute/shop/search/rule/1",
}
ISTIO_ROUTE = "default"
ISTIO_CLUSTER = "inbound-vip|9080|http|reviews.shop.svc.cluster.local"

# outcome name -> (response code, flags text, details, signals, weight)
OUTCOMES: dict[str, tuple[int, str, str, tuple[str, ...], int]] = {
    "ok": (200, "-", "via_upstream", (), 70),
    "rl_global": (429, "RL", "request_rate_limited", ("rate_limited",), 6),
    "rl_local": (429, "RL", "local_rate_limited", ("rate_limited",), 4),
    "overflow": (
        503,
        "UO",
        "upstream_reset_before_response_started{overflow}",
        ("circuit_breaker",),
        8,
    ),
    "connect_fail": (
        503,
        "UF,URX",
        "upstream_reset_before_response_started{remote_connection_failure}",
        ("retry_limit", "upstream_connect_failure"),
        4,
    ),
    "timeout": (504, "UT", "upstream_response_timeout", ("upstream_timeout",), 3),
    "server_error": (500, "-", "via_upstream", (), 3),
    "no_route": (404, "NR", "route_not_found", ("no_route",), 2),
}

# ztunnel error class -> (message, error text)
ZTUNNEL_ERRORS: dict[str, tuple[str, str]] = {
    "policy_denied": ("connection complete", "http status: 401 Unauthorized"),
    "connection_refused": ("connection complete", "io error: Connection refused (os error 111)"),
    "connect_timeout": (
        "connection complete",
        "connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed",
    ),
    "no_healthy_upstream": ("connection failed", "no healthy upstream: 10.96.69.42:80"),
}
ZTUNNEL_SIGNALS = {"policy_denied": ("authz_denied", "connection_error")}

ENVOY_OWN_LOG = b"[2025-07-18 03:00:00.000][1][info][main] [source/server/server.cc:1003] all clusters initialized"

EG_POD = ("envoy-gateway-system", "envoy-shop-eg-7f9c4d6b5-x2k8q", "envoy")
WAYPOINT_POD = ("shop", "waypoint-6f7b665c89-6hppr", "istio-proxy")
ZTUNNEL_POD = ("istio-system", "ztunnel-4xk9p", "istio-proxy")


@dataclass
class RouteTruth:
    cluster: str | None
    requests: int = 0
    rate_limited: int = 0
    circuit_breaker: int = 0
    status_5xx: int = 0
    durations: list[int] = field(default_factory=list)


@dataclass
class Truth:
    """What was written. Minute keys are ``datetime`` at the start of the minute (UTC)."""

    files: int = 0
    lines: int = 0
    ignored: int = 0
    malformed: int = 0
    records_by_kind: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    routes: dict[str | None, RouteTruth] = field(default_factory=dict)
    ztunnel_connections: int = 0
    ztunnel_errors: Counter[str] = field(default_factory=Counter)
    # (minute, route) -> [requests, rate_limited, circuit_breaker, status_5xx]
    route_minutes: dict[tuple[datetime, str | None], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    cluster_minutes: dict[tuple[datetime, str | None], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    ztunnel_error_minutes: Counter[tuple[datetime, str]] = field(default_factory=Counter)
    # x-request-id -> pods whose proxy logged it (the `hops` section's requests / multi_hop)
    request_pods: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    first: datetime | None = None
    last: datetime | None = None
    paths: list[Path] = field(default_factory=list)  # the physical files written

    @property
    def multi_hop(self) -> int:
        return sum(len(pods) >= 2 for pods in self.request_pods.values())

    @property
    def records(self) -> int:
        return sum(self.records_by_kind.values())

    def clusters(self) -> dict[str | None, list[int]]:
        """cluster -> [requests, rate_limited, circuit_breaker, status_5xx]"""
        out: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (_, cluster), counts in self.cluster_minutes.items():
            out[cluster] = [a + b for a, b in zip(out[cluster], counts, strict=True)]
        return dict(out)

    def _seen(self, ts: datetime) -> None:
        self.first = ts if self.first is None or ts < self.first else self.first
        self.last = ts if self.last is None or ts > self.last else self.last

    def envoy(
        self, ts: datetime, route: str | None, cluster: str | None, outcome: str, duration: int
    ) -> None:
        code, flags, _, signals, _ = OUTCOMES[outcome]
        self._seen(ts)
        self.records_by_kind["envoy"] += 1
        self.signals.update(signals)
        if flags != "-":
            self.flags.update(flags.split(","))
        counts = [
            1,
            int("RL" in flags.split(",")),
            int("UO" in flags.split(",")),
            int(500 <= code <= 599),
        ]
        truth = self.routes.setdefault(route, RouteTruth(cluster))
        truth.requests += counts[0]
        truth.rate_limited += counts[1]
        truth.circuit_breaker += counts[2]
        truth.status_5xx += counts[3]
        truth.durations.append(duration)
        minute = ts.replace(second=0, microsecond=0)
        for table, key in ((self.route_minutes, route), (self.cluster_minutes, cluster)):
            row = table[(minute, key)]
            for i, n in enumerate(counts):
                row[i] += n

    def ztunnel(self, ts: datetime, error_class: str | None, opened: bool = False) -> None:
        self._seen(ts)
        self.records_by_kind["ztunnel"] += 1
        if opened:
            return
        self.ztunnel_connections += 1
        if error_class is not None:
            self.ztunnel_errors[error_class] += 1
            self.signals.update(ZTUNNEL_SIGNALS.get(error_class, ("connection_error",)))
            self.ztunnel_error_minutes[(ts.replace(second=0, microsecond=0), error_class)] += 1


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[-(-p * len(ordered) // 100) - 1]


def _ms(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _us(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Trouble comes in bursts, so the incidents timeline has a known shape:
# route -> (first minute, last minute, outcomes likely then)
BURSTS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "httproute/shop/checkout/rule/0/match/0/shop_example_com": (8, 10, ("rl_global", "rl_local")),
    "httproute/shop/frontend/rule/0/match/0/*": (12, 13, ("overflow", "connect_fail")),
    "httproute/shop/search/rule/1/match/0/*": (15, 16, ("timeout", "server_error")),
    ISTIO_ROUTE: (5, 6, ("overflow", "server_error", "rl_local")),
}
ZTUNNEL_BURST = (12, 14)


def _bursty_outcome(rng: random.Random, route: str, ts: datetime) -> str:
    """Mostly "ok"; within the route's burst minutes, 40% of requests fail as listed."""
    first, last, troubles = BURSTS[route]
    minute = int((ts - START).total_seconds() // 60)
    if first <= minute <= last and rng.random() < 0.4:
        return rng.choice(troubles)
    return "ok"


def _outcome(rng: random.Random) -> str:
    names = list(OUTCOMES)
    return rng.choices(names, weights=[OUTCOMES[n][4] for n in names])[0]


def eg_json_line(
    rng: random.Random,
    ts: datetime,
    route: str | None,
    cluster: str | None,
    outcome: str,
    duration: int,
    request_id: str | None = None,
) -> bytes:
    code, flags, details, _, _ = OUTCOMES[outcome]
    ok = code < 400
    return orjson.dumps(
        {
            ":authority": "shop.example.com",
            "bytes_received": 0,
            "bytes_sent": rng.randrange(0, 20000) if ok else 81,
            "connection_termination_details": None,
            "downstream_local_address": "10.244.1.70:10080",
            "downstream_remote_address": f"172.18.0.1:{rng.randrange(30000, 60000)}",
            "duration": duration,
            "method": "GET",
            "protocol": "HTTP/1.1",
            "requested_server_name": None,
            "response_code": code,
            "response_code_details": details,
            "response_flags": flags,
            "route_name": route,
            "start_time": _ms(ts),
            "upstream_cluster": cluster,
            "upstream_host": "10.244.1.68:9080" if ok else None,
            "upstream_local_address": f"10.244.1.70:{rng.randrange(30000, 60000)}" if ok else None,
            "upstream_transport_failure_reason": None,
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "x-envoy-origin-path": f"/api/v1/items/{rng.randrange(1000)}",
            "x-envoy-upstream-service-time": None,
            "x-forwarded-for": "172.18.0.1",
            "x-request-id": request_id or f"{rng.getrandbits(128):032x}",
        }
    )


def istio_text_line(
    rng: random.Random, ts: datetime, outcome: str, duration: int, request_id: str | None = None
) -> bytes:
    code, flags, details, _, _ = OUTCOMES[outcome]
    host = '"envoy://connect_originate/10.244.2.33:9080"' if code < 400 else '"-"'
    return (
        f'[{_ms(ts)}] "GET /reviews/{rng.randrange(100)} HTTP/1.1" {code} {flags} {details} - "-" '
        f'0 {rng.randrange(0, 5000)} {duration} - "-" "python-requests/2.32.3" '
        f'"{request_id or f"{rng.getrandbits(128):032x}"}" "reviews:9080" {host} {ISTIO_CLUSTER} '
        f"envoy://internal_client_address/ 10.96.120.7:9080 10.244.1.68:{rng.randrange(30000, 60000)} - {ISTIO_ROUTE}"
    ).encode()


def ztunnel_line(
    rng: random.Random, ts: datetime, error_class: str | None, opened: bool = False
) -> bytes:
    fields = (
        f"src.addr=10.244.1.70:{rng.randrange(30000, 60000)} "
        'src.workload="envoy-shop-eg-7f9c4d6b5-x2k8q" src.namespace="envoy-gateway-system" '
        'src.identity="spiffe://cluster.local/ns/envoy-gateway-system/sa/envoy-shop" '
        "dst.addr=10.244.1.68:15008 dst.hbone_addr=10.244.1.68:9080 "
        'dst.workload="frontend-v1-54bb874995-kzpnw" dst.namespace="shop" '
        'dst.identity="spiffe://cluster.local/ns/shop/sa/frontend" direction="outbound"'
    )
    if opened:
        return f"{_us(ts)}\tdebug\taccess\tconnection opened\t{fields}".encode()
    if error_class is None:
        extra = f' bytes_sent={rng.randrange(100, 900)} bytes_recv={rng.randrange(100, 20000)} duration="{rng.randrange(1, 3000)}ms"'
        return f"{_us(ts)}\tinfo\taccess\tconnection complete\t{fields}{extra}".encode()
    message, error = ZTUNNEL_ERRORS[error_class]
    level = "warn" if message == "connection failed" else "error"
    error_text = error.replace('"', '\\"')
    return f'{_us(ts)}\t{level}\taccess\t{message}\t{fields} bytes_sent=0 bytes_recv=0 duration="0ms" error="{error_text}"'.encode()


@dataclass
class _LogWriter:
    """Writes one container log (CRI-wrapped or raw), rotating it into ``rotations`` parts."""

    live: Path
    truth: Truth
    proxy: str  # "envoy" or "ztunnel": what its own (non-access) log lines look like
    cri: bool
    stamps: list[str]
    gzip_rotated: bool
    parts: list[list[bytes]] = field(default_factory=lambda: [[]])

    def line(self, content: bytes, ts: datetime, stream: str = "stdout") -> None:
        if self.cri:
            self.parts[-1].append(f"{_us(ts)[:-1]}123Z {stream} F ".encode() + content + b"\n")
        else:
            self.parts[-1].append(content + b"\n")
        self.truth.lines += 1

    def rotate_with_straddle(self, content: bytes, ts: datetime) -> None:
        """Rotate, with ``content`` split P (old file) / F (new file) when CRI-wrapped."""
        if not self.cri:
            self.parts.append([])
            self.line(content, ts)
            return
        cut = len(content) // 2
        self.parts[-1].append(f"{_us(ts)[:-1]}123Z stdout P ".encode() + content[:cut] + b"\n")
        self.parts.append([f"{_us(ts)[:-1]}456Z stdout F ".encode() + content[cut:] + b"\n"])
        self.truth.lines += 2

    def close(self) -> None:
        self.live.parent.mkdir(parents=True, exist_ok=True)
        names = [f"{self.live.name}.{stamp}" for stamp in self.stamps[: len(self.parts) - 1]]
        for index, lines in enumerate(self.parts):
            data = b"".join(lines)
            if index == len(self.parts) - 1:
                path = self.live
            elif self.gzip_rotated and index < len(self.parts) - 2:
                # kubelet compresses all but the newest rotated file
                path = self.live.with_name(names[index] + ".gz")
                data = gzip.compress(data, mtime=0)
            else:
                path = self.live.with_name(names[index])
            path.write_bytes(data)
            self.truth.paths.append(path)
            self.truth.files += 1


def _pod_log(
    root: Path,
    pod: tuple[str, str, str],
    truth: Truth,
    *,
    cri: bool,
    rotations: int,
    gzip_rotated: bool,
) -> _LogWriter:
    proxy = "ztunnel" if pod[1].startswith("ztunnel") else "envoy"
    namespace, name, container = pod
    uid = "0f3c9a2e-5b1d-4c7e-9a8f-2d6e4b1c7a90"
    live = root / "pods" / f"{namespace}_{name}_{uid}" / container / "0.log"
    stamps = [f"20250718-03{10 + 5 * i:02d}00" for i in range(rotations)]
    link_dir = root / "containers"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / f"{name}_{namespace}_{container}-{'ab' * 32}.log"
    live.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(live)
    return _LogWriter(live, truth, proxy, cri, stamps, gzip_rotated)


def _times(
    rng: random.Random, count: int, minutes: int, offset_s: float, unit_us: int = 1
) -> list[datetime]:
    """Sorted event times; ``unit_us`` 1000 for Envoy's millisecond timestamps."""
    span = minutes * 60_000_000 // unit_us
    return sorted(
        START + timedelta(microseconds=int(offset_s * 1e6) + rng.randrange(span) * unit_us)
        for _ in range(count)
    )


def write_node_scenario(
    root: Path,
    *,
    seed: int = 7,
    envoy_requests: int = 3000,
    waypoint_requests: int = 1200,
    ztunnel_connections: int = 1500,
    minutes: int = 20,
    rotations: int = 2,
    gzip_rotated: bool = True,
    cri: bool = True,
) -> Truth:
    """A node's ``/var/log`` under ``root`` (``root/pods``, ``root/containers``); see module doc."""
    rng = random.Random(seed)
    truth = Truth()
    writers: list[tuple[_LogWriter, list[tuple[datetime, Callable[[], bytes]]]]] = []

    eg = _pod_log(root, EG_POD, truth, cri=cri, rotations=rotations, gzip_rotated=gzip_rotated)
    eg_events: list[tuple[datetime, Callable[[], bytes]]] = []
    eg_requests: list[tuple[datetime, str]] = []
    for ts in _times(rng, envoy_requests, minutes, 0.0, 1000):
        route: str | None
        cluster: str | None
        route, cluster = rng.choice(list(EG_ROUTES.items()))
        outcome = _bursty_outcome(rng, route, ts)
        if rng.random() < 0.01:  # a request no route matched
            route, cluster, outcome = None, None, "no_route"
        duration = rng.randrange(0, 2500) if rng.random() < 0.97 else rng.randrange(2500, 9999)
        truth.envoy(ts, route, cluster, outcome, duration)
        request_id = f"{rng.getrandbits(128):032x}"
        truth.request_pods[request_id].add(EG_POD[1])
        eg_requests.append((ts, request_id))
        eg_events.append(
            (ts, partial(eg_json_line, rng, ts, route, cluster, outcome, duration, request_id))
        )
    writers.append((eg, eg_events))

    wp = _pod_log(
        root, WAYPOINT_POD, truth, cri=cri, rotations=rotations, gzip_rotated=gzip_rotated
    )
    wp_events: list[tuple[datetime, Callable[[], bytes]]] = []
    forwarded: set[str] = set()
    for ts in _times(rng, waypoint_requests, minutes, 0.5, 1000):
        outcome = _bursty_outcome(rng, ISTIO_ROUTE, ts)
        duration = rng.randrange(0, 800)
        truth.envoy(ts, ISTIO_ROUTE, ISTIO_CLUSTER, outcome, duration)
        # half the waypoint's requests continue an ingress request that started just before
        # (the ingress forwards x-request-id), the others come from inside the mesh
        before = bisect.bisect_left(eg_requests, (ts, "")) - 1
        if rng.random() < 0.5 and before >= 0 and eg_requests[before][1] not in forwarded:
            request_id = eg_requests[before][1]
            forwarded.add(request_id)
        else:
            request_id = f"{rng.getrandbits(128):032x}"
        truth.request_pods[request_id].add(WAYPOINT_POD[1])
        wp_events.append((ts, partial(istio_text_line, rng, ts, outcome, duration, request_id)))
    writers.append((wp, wp_events))

    zt = _pod_log(root, ZTUNNEL_POD, truth, cri=cri, rotations=rotations, gzip_rotated=gzip_rotated)
    zt_events: list[tuple[datetime, Callable[[], bytes]]] = []
    classes = list(ZTUNNEL_ERRORS)
    for ts in _times(rng, ztunnel_connections, minutes, 1.0):
        roll = rng.random()
        if roll < 0.03:
            truth.ztunnel(ts, None, opened=True)
            zt_events.append((ts, partial(ztunnel_line, rng, ts, None, opened=True)))
            continue
        minute = int((ts - START).total_seconds() // 60)
        in_burst = ZTUNNEL_BURST[0] <= minute <= ZTUNNEL_BURST[1]
        error_class = rng.choice(classes) if in_burst and roll < 0.5 else None
        truth.ztunnel(ts, error_class)
        zt_events.append((ts, partial(ztunnel_line, rng, ts, error_class)))
    writers.append((zt, zt_events))

    for writer, events in writers:
        _write_events(rng, writer, events, rotations, truth)
        writer.close()
    return truth


def _write_events(
    rng: random.Random,
    writer: _LogWriter,
    events: list[tuple[datetime, Callable[[], bytes]]],
    rotations: int,
    truth: Truth,
) -> None:
    rotate_at = {len(events) * (i + 1) // (rotations + 1) for i in range(rotations)}
    for index, (ts, render) in enumerate(events):
        if index % 200 == 17:  # a proxy's own log line: not an access log
            if writer.proxy == "ztunnel":
                writer.line(
                    f"{_us(ts)}\tinfo\txds::client:xds{{id=2}}\treceived response\tsize=10".encode(),
                    ts,
                )
            elif writer.cri:
                writer.line(ENVOY_OWN_LOG, ts, "stderr")
            else:
                writer.line(b"", ts)
            truth.ignored += 1
        if index % 500 == 250:  # garbage in the stream: counted as malformed, never fatal
            writer.line(b"this is not an access log line", ts)
            truth.malformed += 1
        content = render()
        if index in rotate_at:
            writer.rotate_with_straddle(content, ts)
        else:
            writer.line(content, ts)


def write_eg_jsonl(path: Path, *, lines: int, seed: int = 11, minutes: int = 60) -> Truth:
    """One raw Envoy Gateway JSON file of ``lines`` access-log lines (no wrapping, no noise)."""
    rng = random.Random(seed)
    truth = Truth()
    routes = list(EG_ROUTES.items())
    step = minutes * 60_000_000 // max(lines, 1)
    with path.open("wb") as out:
        batch: list[bytes] = []
        for i in range(lines):
            ts = START + timedelta(microseconds=i * step - (i * step) % 1000)
            outcome = _outcome(rng)
            route, cluster = (
                (None, None) if outcome == "no_route" else routes[rng.randrange(len(routes))]
            )
            duration = rng.randrange(0, 3000)
            truth.envoy(ts, route, cluster, outcome, duration)
            batch.append(eg_json_line(rng, ts, route, cluster, outcome, duration))
            if len(batch) >= 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    truth.lines = lines
    truth.files = 1
    truth.paths.append(path)
    return truth
