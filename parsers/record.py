"""The normalized access-log record: the one shape every parser produces.

A record is a row of a polars DataFrame whose columns are ``RECORD_SCHEMA`` (batches, the hot
path) or, one at a time, a :class:`Record` (tests, the per-line API, small tools). The public
keys are exactly those of the `logwatch parse` contract; ``ts`` is the event time as a typed
timestamp for windowing and joins and is never printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import polars as pl

Kind = Literal["envoy", "ztunnel"]
Format = Literal["envoy-json", "envoy-text", "ztunnel-text", "ztunnel-json"]
Role = Literal["ingress", "waypoint", "sidecar", "ztunnel"]

_S = pl.String
_I = pl.Int64

COMMON_SCHEMA: dict[str, pl.DataType] = {
    "kind": _S(),
    "format": _S(),
    "time": _S(),
    "file": _S(),
    "lineno": _I(),
    "pod": _S(),
    "namespace": _S(),
    "container": _S(),
    "role": _S(),
    "signals": pl.List(_S()),
}

ENVOY_SCHEMA: dict[str, pl.DataType] = {
    "method": _S(),
    "path": _S(),
    "protocol": _S(),
    "authority": _S(),
    "response_code": _I(),
    "response_flags": pl.List(_S()),
    "response_code_details": _S(),
    "reset_reason": _S(),
    "connection_termination_details": _S(),
    "upstream_transport_failure_reason": _S(),
    "bytes_received": _I(),
    "bytes_sent": _I(),
    "duration_ms": _I(),
    "upstream_service_time_ms": _I(),
    "x_forwarded_for": _S(),
    "user_agent": _S(),
    "request_id": _S(),
    "upstream_host": _S(),
    "upstream_cluster": _S(),
    "upstream_local_address": _S(),
    "downstream_local_address": _S(),
    "downstream_remote_address": _S(),
    "requested_server_name": _S(),
    "route_name": _S(),
}

# bytes_sent and duration_ms are shared with the Envoy keys (same name, same type).
ZTUNNEL_SCHEMA: dict[str, pl.DataType] = {
    "level": _S(),
    "message": _S(),
    "direction": _S(),
    "src_addr": _S(),
    "src_workload": _S(),
    "src_namespace": _S(),
    "src_identity": _S(),
    "src_cluster": _S(),
    "dst_addr": _S(),
    "dst_hbone_addr": _S(),
    "dst_service": _S(),
    "dst_workload": _S(),
    "dst_namespace": _S(),
    "dst_identity": _S(),
    "dst_cluster": _S(),
    "bytes_recv": _I(),
    "error": _S(),
    "error_class": _S(),
}

# Public keys, in the order `logwatch parse` prints them.
PUBLIC_SCHEMA: dict[str, pl.DataType] = {**COMMON_SCHEMA, **ENVOY_SCHEMA, **ZTUNNEL_SCHEMA}
PUBLIC_KEYS: tuple[str, ...] = tuple(PUBLIC_SCHEMA)

# Internal columns carried by batches but never printed.
INTERNAL_SCHEMA: dict[str, pl.DataType] = {
    # Event time (Envoy start_time, ztunnel line timestamp) as UTC microseconds.
    "ts": pl.Datetime("us", "UTC"),
}

RECORD_SCHEMA: dict[str, pl.DataType] = {**PUBLIC_SCHEMA, **INTERNAL_SCHEMA}


def empty_batch() -> pl.DataFrame:
    """A batch with no rows and every record column, for stages that need a neutral element."""
    return pl.DataFrame(schema=RECORD_SCHEMA)


@dataclass(frozen=True, slots=True)
class Record:
    """One record, row-shaped. Field names and meanings are those of RECORD_SCHEMA."""

    kind: Kind
    format: Format
    time: str
    ts: datetime
    file: str | None = None
    lineno: int = 0
    pod: str | None = None
    namespace: str | None = None
    container: str | None = None
    role: Role | None = None
    signals: tuple[str, ...] = field(default=())
    method: str | None = None
    path: str | None = None
    protocol: str | None = None
    authority: str | None = None
    response_code: int | None = None
    response_flags: tuple[str, ...] | None = None
    response_code_details: str | None = None
    reset_reason: str | None = None
    connection_termination_details: str | None = None
    upstream_transport_failure_reason: str | None = None
    bytes_received: int | None = None
    bytes_sent: int | None = None
    duration_ms: int | None = None
    upstream_service_time_ms: int | None = None
    x_forwarded_for: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    upstream_host: str | None = None
    upstream_cluster: str | None = None
    upstream_local_address: str | None = None
    downstream_local_address: str | None = None
    downstream_remote_address: str | None = None
    requested_server_name: str | None = None
    route_name: str | None = None
    level: str | None = None
    message: str | None = None
    direction: str | None = None
    src_addr: str | None = None
    src_workload: str | None = None
    src_namespace: str | None = None
    src_identity: str | None = None
    src_cluster: str | None = None
    dst_addr: str | None = None
    dst_hbone_addr: str | None = None
    dst_service: str | None = None
    dst_workload: str | None = None
    dst_namespace: str | None = None
    dst_identity: str | None = None
    dst_cluster: str | None = None
    bytes_recv: int | None = None
    error: str | None = None
    error_class: str | None = None

    def public(self) -> dict[str, Any]:
        """The record as `logwatch parse` prints it: every public key, lists as lists."""
        out: dict[str, Any] = {}
        for key in PUBLIC_KEYS:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        """Build from a batch row (``DataFrame.iter_rows(named=True)``)."""
        values: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in row.items()
        }
        return cls(**values)
