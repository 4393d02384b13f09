"""Pod IP -> workload and namespace, learned from the ztunnel records themselves.

Envoy lines carry only addresses; ztunnel lines name the workload on both ends. An IP keeps
the name it was last seen with for ``workload_ttl_s`` of event time around the interval in
which it was seen (pod IPs are reused by new pods, so an old name must not stick forever).
The directory is bounded by ``max_entries``: the least recently seen IPs go first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import polars as pl

from logwatch.correlate.keys import US

WORKLOAD_SCHEMA: dict[str, pl.DataType] = {
    "ip": pl.String(),
    "workload": pl.String(),
    "workload_namespace": pl.String(),
    "first_seen_us": pl.Int64(),
    "last_seen_us": pl.Int64(),
}


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    namespace: str | None


class WorkloadDirectory:
    """IP -> workload map with time bounds. Updates and lookups are batch operations."""

    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self._ttl_us = int(ttl_s * US)
        self._max_entries = max_entries
        # ip -> (workload, namespace, first_seen_us, last_seen_us)
        self._entries: dict[str, tuple[str, str | None, int, int]] = {}
        self._frame: pl.DataFrame | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def learn(self, conns: pl.DataFrame) -> None:
        """Record the workloads named on both ends of ``conns`` (a connection frame)."""
        if conns.height == 0:
            return
        sides = pl.concat(
            [
                conns.select(
                    pl.col("src_ip").alias("ip"),
                    pl.col("src_workload").alias("workload"),
                    pl.col("src_namespace").alias("namespace"),
                    pl.col("close_us").alias("seen"),
                ),
                conns.select(
                    pl.col("dst_ip").alias("ip"),
                    pl.col("dst_workload").alias("workload"),
                    pl.col("dst_namespace").alias("namespace"),
                    pl.col("close_us").alias("seen"),
                ),
            ]
        ).drop_nulls(["ip", "workload"])
        latest = (
            sides.sort("seen")
            .group_by("ip")
            .agg(
                pl.col("workload").last(),
                pl.col("namespace").last(),
                pl.col("seen").min().alias("first"),
                pl.col("seen").max().alias("last"),
            )
        )
        entries = self._entries
        for ip, workload, namespace, first, last in latest.iter_rows():
            known = entries.get(ip)
            if known is not None and known[0] == workload and known[3] >= first - self._ttl_us:
                entries[ip] = (workload, namespace, min(known[2], first), max(known[3], last))
            elif known is None or last >= known[3]:
                entries[ip] = (workload, namespace, first, last)
        if len(entries) > self._max_entries:
            by_age = sorted(entries.items(), key=lambda item: item[1][3])
            for ip, _ in by_age[: len(entries) - self._max_entries]:
                del entries[ip]
        self._frame = None

    def expire(self, now_us: int) -> None:
        """Forget IPs not seen within the TTL before ``now_us``."""
        horizon = now_us - self._ttl_us
        stale = [ip for ip, entry in self._entries.items() if entry[3] < horizon]
        for ip in stale:
            del self._entries[ip]
        if stale:
            self._frame = None

    def estimated_bytes(self) -> int:
        """Approximate heap of the map (``sys.getsizeof`` of dict, keys and entry tuples)."""
        total = sys.getsizeof(self._entries)
        for ip, entry in self._entries.items():
            total += sys.getsizeof(ip) + sys.getsizeof(entry) + sum(map(sys.getsizeof, entry))
        return total

    def lookup(self, ip: str, at_us: int) -> Workload | None:
        entry = self._entries.get(ip)
        if entry is None or not entry[2] - self._ttl_us <= at_us <= entry[3] + self._ttl_us:
            return None
        return Workload(entry[0], entry[1])

    def annotate(
        self, frame: pl.DataFrame, ip_column: str, time_column: str, prefix: str
    ) -> pl.DataFrame:
        """``frame`` plus ``<prefix>_workload`` / ``<prefix>_namespace`` for ``ip_column``."""
        table = self._table().rename({"ip": ip_column})
        joined = frame.join(table, on=ip_column, how="left", coalesce=True, maintain_order="left")
        valid = (pl.col(time_column) >= pl.col("first_seen_us") - self._ttl_us) & (
            pl.col(time_column) <= pl.col("last_seen_us") + self._ttl_us
        )
        return joined.with_columns(
            pl.when(valid).then(pl.col("workload")).alias(f"{prefix}_workload"),
            pl.when(valid).then(pl.col("workload_namespace")).alias(f"{prefix}_namespace"),
        ).drop("workload", "workload_namespace", "first_seen_us", "last_seen_us")

    def _table(self) -> pl.DataFrame:
        if self._frame is None:
            rows = [(ip, *entry) for ip, entry in self._entries.items()]
            self._frame = pl.DataFrame(rows, schema=WORKLOAD_SCHEMA, orient="row")
        return self._frame
