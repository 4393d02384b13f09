"""Record batches <-> Kafka messages.

**Encoding** (collector): one message per record. The value is the record's public keys as
JSON (the `logwatch parse` shape; Envoy records omit the ztunnel keys and vice versa, the
reader fills them with null). Headers ``kind``, ``format`` and, when known, ``pod`` let a
consumer route without parsing the value.

**Partitioning**: the message key is chosen so that the records of one request, written by
different proxies on different nodes, land in one partition and so meet in one analyzer
(FORMATS.md §5):

1. ``request_id`` when present (x-request-id joins Envoy hops: ingress ↔ waypoint);
2. else the L4 connection key: Envoy ``upstream_local_address`` (== the ztunnel outbound
   ``src_addr`` of the connection that carried it, the exact ingress ↔ ztunnel join), ztunnel
   outbound ``src_addr``, ztunnel inbound ``dst_hbone_addr``;
3. else the pod, else the empty key.

An Envoy record with both a request id and a connection uses the request id, so the exact
ingress ↔ ztunnel join holds within a partition only for records without a request id
(ztunnel and Envoy TCP/L4 lines); request-level joins always hold. The partition is
``crc32(key) % partitions``: cheap, and the same in every collector whatever its version.

**Decoding** (analyzer): a list of record JSON values becomes one RECORD_SCHEMA batch in a
single vectorised read. Values that are not valid records (bad JSON, wrong types, unknown
kind or format, unreadable time) are isolated by bisection and returned as rejections with
the reason; the rest of the batch is kept.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from parsers.record import (
    COMMON_SCHEMA,
    ENVOY_SCHEMA,
    PUBLIC_KEYS,
    PUBLIC_SCHEMA,
    RECORD_SCHEMA,
    ZTUNNEL_SCHEMA,
)

from .envelopes import RECORD_FORMATS, RECORD_KINDS

HeaderList = list[tuple[str, bytes]]

# RFC 3339 UTC with "Z", the `time` key of every record; the fraction is optional
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
_ENVOY_KEYS = [*COMMON_SCHEMA, *ENVOY_SCHEMA]
_ZTUNNEL_KEYS = [
    *COMMON_SCHEMA,
    *(k for k in ZTUNNEL_SCHEMA if k not in ENVOY_SCHEMA),
    "bytes_sent",
    "duration_ms",
]


@dataclass(frozen=True, slots=True)
class EncodedRecords:
    """Messages for one record batch, aligned by index; ``partitions`` is None when the
    topic's partition count was not given (then the client's partitioner decides)."""

    keys: list[bytes]
    values: list[bytes]
    headers: list[HeaderList]
    partitions: list[int] | None


def partition_key() -> pl.Expr:
    """The message key of each record (see module docstring), as a string expression."""
    envoy_connection = (
        pl.when(pl.col("upstream_local_address").str.starts_with("envoy://"))
        .then(None)
        .otherwise(pl.col("upstream_local_address"))
    )
    ztunnel_connection = (
        pl.when(pl.col("direction") == "inbound")
        .then(pl.col("dst_hbone_addr"))
        .otherwise(pl.col("src_addr"))
    )
    connection = (
        pl.when(pl.col("kind") == "envoy").then(envoy_connection).otherwise(ztunnel_connection)
    )
    return pl.coalesce(pl.col("request_id"), connection, pl.col("pod"), pl.lit("")).alias("key")


def partition_of(key: bytes, partitions: int) -> int:
    """The partition for ``key`` among ``partitions`` (stable across processes)."""
    return zlib.crc32(key) % partitions


def encode_records(records: pl.DataFrame, partitions: int | None = None) -> EncodedRecords:
    """Turn a RECORD_SCHEMA batch into messages (see module docstring)."""
    if records.height == 0:
        return EncodedRecords([], [], [], [] if partitions else None)
    envoy_json = pl.struct(_ENVOY_KEYS).struct.json_encode()
    ztunnel_json = pl.struct(_ZTUNNEL_KEYS).struct.json_encode()
    encoded = records.select(
        partition_key(),
        pl.when(pl.col("kind") == "envoy").then(envoy_json).otherwise(ztunnel_json).alias("value"),
        "kind",
        "format",
        "pod",
    )
    keys: list[bytes] = encoded.get_column("key").cast(pl.Binary).to_list()
    values: list[bytes] = encoded.get_column("value").cast(pl.Binary).to_list()
    # a batch comes from few pods: one header list per (kind, format, pod), shared by its rows
    shared: dict[tuple[str, str, str | None], HeaderList] = {}
    headers: list[HeaderList] = []
    columns = (encoded.get_column(name).to_list() for name in ("kind", "format", "pod"))
    for origin in zip(*columns, strict=True):
        row = shared.get(origin)
        if row is None:
            kind, fmt, pod = origin
            row = [("kind", kind.encode()), ("format", fmt.encode())]
            if pod is not None:
                row.append(("pod", pod.encode()))
            shared[origin] = row
        headers.append(row)
    placed = [zlib.crc32(key) % partitions for key in keys] if partitions else None
    return EncodedRecords(keys, values, headers, placed)


@dataclass(frozen=True, slots=True)
class RecordRejection:
    """A message value that is not a valid record; ``index`` is its position in the input."""

    index: int
    reason: str


def decode_records(values: Sequence[bytes]) -> tuple[pl.DataFrame, list[RecordRejection]]:
    """Record JSON values -> (RECORD_SCHEMA batch in input order, rejections)."""
    if not values:
        return pl.DataFrame(schema=RECORD_SCHEMA), []
    rejections: list[RecordRejection] = []
    frames: list[pl.DataFrame] = []
    _read_bisect(values, 0, len(values), frames, rejections)
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=RECORD_SCHEMA)
    return frame, sorted(rejections, key=lambda rejection: rejection.index)


def _read_bisect(
    values: Sequence[bytes],
    start: int,
    stop: int,
    frames: list[pl.DataFrame],
    rejections: list[RecordRejection],
) -> None:
    try:
        frame = _read(values[start:stop])
    except (pl.exceptions.PolarsError, ValueError) as exc:
        if stop - start == 1:
            rejections.append(RecordRejection(start, f"bad record JSON: {_short(exc)}"))
            return
        middle = (start + stop) // 2
        _read_bisect(values, start, middle, frames, rejections)
        _read_bisect(values, middle, stop, frames, rejections)
        return
    valid = (
        pl.col("kind").is_in(list(RECORD_KINDS))
        & pl.col("format").is_in(list(RECORD_FORMATS))
        & pl.col("ts").is_not_null()
    )
    checked = frame.with_columns(valid.fill_null(False).alias("_valid"))
    if checked.get_column("_valid").all():
        frames.append(frame)
        return
    for offset, ok, kind, fmt in (
        checked.select("_valid", "kind", "format").with_row_index().iter_rows()
    ):
        if not ok:
            rejections.append(
                RecordRejection(
                    start + offset, f"not a record: kind={kind!r} format={fmt!r} or bad time"
                )
            )
    frames.append(checked.filter("_valid").drop("_valid"))


def _read(values: Sequence[bytes]) -> pl.DataFrame:
    frame = pl.read_ndjson(io.BytesIO(b"\n".join(values)), schema=PUBLIC_SCHEMA)
    if frame.height != len(values):
        raise ValueError(f"{len(values)} values gave {frame.height} rows")
    time = pl.col("time").str.to_datetime(
        _TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False
    )
    return frame.with_columns(
        pl.col("signals").fill_null(pl.lit([], dtype=pl.List(pl.String))), time.alias("ts")
    ).select(list(RECORD_SCHEMA))


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


__all__ = ["PUBLIC_KEYS", "EncodedRecords", "RecordRejection", "decode_records", "encode_records"]
