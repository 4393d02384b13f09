"""The generated mesh: line writers with per-node clocks, and the connection pools."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from tests.correlate.topology import (
    Conn,
    Line,
    Proxy,
    Scenario,
    Truth,
    iso,
    ztunnel_line,
)


@dataclass
class Entry:
    write: float
    text: str
    key: int


class Builder:
    def __init__(self, seed: int, skew_s: float, drop_rate: float) -> None:
        self.rng = random.Random(seed)
        self.skew = [0.0] + [self.rng.uniform(-skew_s / 2, skew_s / 2) for _ in range(3)]
        self.drop_rate = drop_rate
        self.entries: dict[str, list[Entry]] = {}
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

    def proxy(self, ns: str, pod: str, container: str, ip: str, node: int) -> Proxy:
        return Proxy(pod, ip, node, f"/var/log/pods/{ns}_{pod}_uid{node}/{container}/0.log")

    def ztunnel_file(self, node: int) -> str:
        return f"/var/log/pods/istio-system_ztunnel-n{node}_uidz{node}/istio-proxy/0.log"

    def write(self, file: str, write_true: float, node: int, text: str, droppable: bool) -> int:
        key = self.next_key
        self.next_key += 1
        local = write_true + self.skew[node]
        stamp = iso(local, 9)
        self.entries.setdefault(file, []).append(Entry(local, f"{stamp} stdout F {text}", key))
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


class Mesh:
    """Pods, connection pools and the line writers of one generated run."""

    def __init__(self, b: Builder) -> None:
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
        self.keepalive: dict[tuple[str, str], list[Conn]] = {}
        self.multiplexed: dict[tuple[str, str], tuple[Conn, float]] = {}
        # per source IP: heap of (close time, port), the latest close per port, open ports
        self.freed: dict[str, list[tuple[float, int]]] = {}
        self.last_close: dict[str, dict[int, float]] = {}
        self.open_ports: dict[str, set[int]] = {}

    # -- connections ----------------------------------------------------------------------

    def free_port(self, ip: str, now: float) -> int:
        """A port for a new connection from ``ip``, marked open: often the one freed longest
        ago (reuse), else a random one; never one still open from ``ip``, nor one whose
        last connection closed less than 10 ms before ``now`` (or closes later: closes are
        written ahead of time), which the kernel would not hand out again."""
        heap = self.freed.setdefault(ip, [])
        last_close = self.last_close.setdefault(ip, {})
        open_ports = self.open_ports.setdefault(ip, set())
        port: int | None = None
        if self.b.rng.random() < 0.7:
            while heap and heap[0][0] + 0.01 < now:
                when, candidate = heapq.heappop(heap)
                if last_close.get(candidate) == when and candidate not in open_ports:
                    port = candidate
                    break
        while port is None or port in open_ports or last_close.get(port, -1.0) + 0.01 >= now:
            port = self.b.rng.randint(32768, 32768 + 3000)
        open_ports.add(port)
        return port

    def keepalive_conn(self, src: Proxy, dst: Proxy, hbone: str, t: float) -> Conn:
        """HTTP/1.1 pool: an idle connection (closing those idle > 1 s), else a new one."""
        pool = self.keepalive.setdefault((src.pod, dst.pod), [])
        for conn in list(pool):
            if conn.last_end + 1.0 < t:
                pool.remove(conn)
                self.close(conn, conn.last_end + 1.0)
        for conn in pool:
            if conn.last_end <= t:
                return conn
        conn = Conn(
            src,
            self.free_port(src.ip, t),
            dst,
            hbone,
            opened=t + 0.0003,
            limit=self.b.rng.randint(1, 12),
        )
        pool.append(conn)
        return conn

    def keepalive_done(self, conn: Conn, end: float) -> None:
        conn.last_end = max(conn.last_end, end)
        conn.requests += 1
        if conn.requests >= conn.limit:
            self.keepalive[(conn.src.pod, conn.dst.pod)].remove(conn)
            self.close(conn, conn.last_end + self.b.rng.uniform(0, 0.05))

    def multiplexed_conn(
        self, src: Proxy, dst: Proxy, hbone: str, t: float, waypoint_side: str
    ) -> Conn:
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
        conn = Conn(src, self.free_port(src.ip, t), dst, hbone, opened=t - 0.0005)
        if waypoint_side == "downstream":
            conn.inbound, conn.out_truth = False, "downstream"
        else:
            conn.outbound, conn.out_truth, conn.in_truth = False, None, "inbound"
        self.multiplexed[key] = (conn, t + self.b.rng.uniform(3, 20))
        return conn

    def close(self, conn: Conn, close: float) -> int:
        """Write the ztunnel line(s) of ``conn`` closing at ``close`` (true time); returns
        the key of the outbound line (-1 without one)."""
        b = self.b
        out_key = -1
        if conn.outbound:
            node = conn.src.node
            duration = int((close - conn.opened) * 1000)
            text = ztunnel_line(
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
            text = ztunnel_line(
                conn, "inbound", close_in + b.skew[node], dur_in, conn.inbound_error, hbone_port
            )
            in_key = b.write(b.ztunnel_file(node), close_in, node, text, droppable=True)
            if out_key >= 0:
                b.truth_keys["pairs"].append((out_key, in_key))
            if conn.in_truth is not None:
                b.truth_keys[conn.in_truth].extend((hop, in_key) for hop in conn.hops)
        ip, port = conn.src.ip, conn.src_port
        last_close = self.last_close.setdefault(ip, {})
        last_close[port] = max(close, last_close.get(port, close))
        heapq.heappush(self.freed.setdefault(ip, []), (last_close[port], port))
        self.open_ports.setdefault(ip, set()).discard(port)
        return out_key

    def close_all(self) -> None:
        for pool in self.keepalive.values():
            for conn in pool:
                self.close(conn, conn.last_end + 1.0)
        for conn, _ in self.multiplexed.values():
            self.close(conn, conn.last_end + 0.5)
