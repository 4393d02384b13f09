"""The batch path: a chunk of whole lines -> records, column-wise, plus the lines it left out.

The common lines (CRI ``F`` or unwrapped Envoy JSON with a start time, ztunnel text access
lines in canonical field order) are parsed with polars expressions. Everything else, and every
line whose values are not plainly valid, is handed to the exact per-line path
(``parsers.content``) in ``BatchPlan.slow``; the decoder parses those in order and ``merge``
interleaves both by line number. Derived values (flags, signals, reset reason, role, error
class) are computed by the per-line functions once per distinct input value and joined back,
so both paths agree by construction.

Whole-chunk fallback to the per-line path: bytes polars would read differently (NUL, ``\\r``,
``\\x1f``, invalid UTF-8), docker json-file lines, or a line count that does not add up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from parsers.details import reset_reason
from parsers.envelope import TS_PATTERN
from parsers.envoy_json import ENVOY_JSON_KEYS
from parsers.envoy_record import ENVOY_INT_KEYS, ENVOY_STRING_KEYS
from parsers.flags import BadFlags, envoy_signals, parse_flags, ztunnel_signals
from parsers.frame import records_frame
from parsers.k8s_path import PodMeta
from parsers.options import ParseOptions
from parsers.outcome import Rejection
from parsers.record import RECORD_SCHEMA
from parsers.ztunnel_errors import classify_error
from parsers.ztunnel_record import LEVELS, ZTUNNEL_STRING_FIELDS

if TYPE_CHECKING:
    from parsers.stream import LineSink

ORDER = "__order"
_NULL_KEY = "\x00"  # join key for null values (NUL never reaches the batch path)
_UTC_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z$"
_DIGITS = r"^[0-9]{1,18}$"
_CRI_PREFIX = rf"^(({TS_PATTERN}) (stdout|stderr) ([PF])(?::\S*)? )"
_ZTUNNEL_HEAD = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
# Canonical ztunnel field order (metrics.rs); any other order or key takes the per-line path.
_ZTUNNEL_KEYS: tuple[str, ...] = (
    "src.addr", "src.workload", "src.namespace", "src.identity", "src.cluster",
    "dst.addr", "dst.hbone_addr", "dst.service", "dst.workload", "dst.namespace",
    "dst.identity", "dst.cluster", "direction", "bytes_sent", "bytes_recv", "duration",
)  # fmt: skip
_VALUE = r'("[^"\\]*"|[^ "\\]*)'
_ZTUNNEL_FIELDS = (
    "^"
    + "".join(
        (
            f"(?:{key.replace('.', '[.]')}={_VALUE})?"
            if i == 0
            else f"(?: {key.replace('.', '[.]')}={_VALUE})?"
        )
        for i, key in enumerate(_ZTUNNEL_KEYS)
    )
    + r'(?: error="([^"\\]*)")?[ \t]*$'
)


@dataclass
class BatchPlan:
    """The batch path's result for one chunk: fast records and the lines left to the slow path."""

    count: int  # physical lines in the chunk
    first_lineno: int
    slow: list[tuple[int, bytes, int]] = field(default_factory=list)  # (index, raw line, offset)
    fast: pl.DataFrame | None = None  # RECORD_SCHEMA columns + ORDER
    size: int = 0  # bytes of the chunk


def split_offsets(data: bytes) -> list[int]:
    """Start offset of every line in ``data`` plus ``len(data)``."""
    starts = [0]
    position = data.find(b"\n")
    while position >= 0:
        starts.append(position + 1)
        position = data.find(b"\n", position + 1)
    if starts[-1] != len(data):
        starts.append(len(data))
    return starts


def _all_slow(data: bytes, first_lineno: int) -> BatchPlan:
    starts = split_offsets(data)
    slow = [(i, data[starts[i] : starts[i + 1]], starts[i]) for i in range(len(starts) - 1)]
    return BatchPlan(len(starts) - 1, first_lineno, slow, size=len(data))


_MAX_ODD_LINES = 16


def _first_odd_line(data: bytes, *, check_utf8: bool) -> tuple[int, int] | None:
    """(start, end) of the first line the CSV split cannot carry exactly, or ``None``."""
    positions = [p for p in (data.find(b"\0"), data.find(b"\r"), data.find(b"\x1f")) if p >= 0]
    if check_utf8:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            positions.append(exc.start)
    if not positions:
        return None
    first = min(positions)
    start = data.rfind(b"\n", 0, first) + 1
    end = data.find(b"\n", first)
    return start, len(data) if end < 0 else end + 1


def _combine(pieces: list[BatchPlan], first_lineno: int) -> BatchPlan:
    """One plan from consecutive pieces of a chunk (fast frames already carry line numbers)."""
    if len(pieces) == 1:
        return pieces[0]
    slow: list[tuple[int, bytes, int]] = []
    line_base = byte_base = 0
    frames = []
    for piece in pieces:
        slow += [(index + line_base, raw, offset + byte_base) for index, raw, offset in piece.slow]
        line_base += piece.count
        byte_base += piece.size
        if piece.fast is not None:
            frames.append(piece.fast)
    fast = pl.concat(frames) if frames else None
    return BatchPlan(line_base, first_lineno, slow, fast, byte_base)


class BatchParser:
    """Column-wise parsing of common lines; see the module docstring."""

    def __init__(self, options: ParseOptions) -> None:
        self._options = options

    def plan(
        self,
        data: bytes,
        first_lineno: int,
        file: str | None,
        meta: PodMeta | None,
        pending_streams: set[str],
    ) -> BatchPlan:
        """Parse what can be parsed column-wise; list the other lines for the per-line path.

        Lines polars would read differently (NUL, ``\\r``, ``\\x1f``, invalid UTF-8) are cut
        out and the pieces around them planned separately, up to ``_MAX_ODD_LINES`` per chunk;
        the rest of such a chunk takes the per-line path.
        """
        if data.startswith(b'{"log":') or b'\n{"log":' in data:
            return _all_slow(data, first_lineno)  # docker json-file: partials need the exact path
        pieces: list[BatchPlan] = []
        position, lineno, pending = 0, first_lineno, pending_streams
        for _ in range(_MAX_ODD_LINES):
            rest = data[position:] if position else data
            odd = _first_odd_line(rest, check_utf8=False)
            clean = odd[0] if odd is not None else len(rest)
            piece = self._plan_clean(rest[:clean], lineno, file, meta, pending) if clean else None
            if clean and piece is None:
                # polars refused the clean-looking part: invalid UTF-8 cuts it shorter.
                odd = _first_odd_line(rest[:clean], check_utf8=True) or odd
                if odd is None:
                    break
                clean = odd[0]
                piece = (
                    self._plan_clean(rest[:clean], lineno, file, meta, pending) if clean else None
                )
                if clean and piece is None:
                    piece = _all_slow(rest[:clean], lineno)
            if piece is not None:
                pieces.append(piece)
                lineno += piece.count
            if odd is None:
                return _combine(pieces, first_lineno)
            start, end = odd
            pieces.append(BatchPlan(1, lineno, [(0, rest[start:end], 0)], size=end - start))
            lineno += 1
            position += end
            # The odd line may have been a partial fragment: re-check both streams after it.
            pending = pending_streams | {"stdout", "stderr"}
            if position >= len(data):
                return _combine(pieces, first_lineno)
        pieces.append(_all_slow(data[position:], lineno))
        return _combine(pieces, first_lineno)

    def _plan_clean(
        self,
        data: bytes,
        first_lineno: int,
        file: str | None,
        meta: PodMeta | None,
        pending_streams: set[str],
    ) -> BatchPlan | None:
        frame: pl.DataFrame | None = None
        if not pending_streams and b" stdout P " not in data and b" stderr P " not in data:
            frame = self._split_marked(data)
        if frame is None:
            frame = self._split_exact(data, pending_streams)
        if frame is None:
            return None
        return self._plan_frame(frame, data, first_lineno, file, meta)

    def _split_marked(self, data: bytes) -> pl.DataFrame | None:
        """Envelopes by marking ``" stdout F "`` as a field separator.

        One byte-level replace lets the CSV reader split envelope and content (access logs are
        on stdout; stderr lines take the per-line path). ``None`` when the marker also occurs
        inside some content or the lines do not add up (then the exact split is used).
        """
        marked = data.replace(b" stdout F ", b"\x1fstdout\x1f")
        markers = (len(data) - len(marked)) // 2
        try:
            lines = pl.read_csv(
                io.BytesIO(marked),
                has_header=False,
                separator="\x1f",
                quote_char=None,
                schema={"head": pl.String, "stream": pl.String, "content": pl.String},
                truncate_ragged_lines=True,
                encoding="utf8",
            )
        except Exception:  # invalid UTF-8 or anything polars refuses
            return None
        if lines["stream"].count() != markers:
            return None
        head, content = pl.col("head"), pl.col("content")
        cri = pl.col("stream").is_not_null()
        length = (
            head.str.len_bytes().fill_null(0)
            + content.str.len_bytes().fill_null(0)
            + pl.when(cri).then(10).otherwise(0)
        ).cast(pl.Int64)
        slow = (
            (head.is_null() & ~cri)
            | (length > self._options.max_line_bytes)
            | (cri & (~head.str.contains(f"^{TS_PATTERN}$") | content.is_null()))
            # Not a CRI "F" line but starts with "<timestamp> ": kubectl prefix, P or tagged F.
            | (~cri & head.str.contains(f"^{TS_PATTERN} "))
        )
        frame = lines.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("idx"),
            ((length + 1).cum_sum() - (length + 1)).alias("offset"),
            pl.when(cri).then(content).otherwise(head).alias("content"),
            slow.fill_null(True).alias("slow"),
            length.alias("length"),
        )
        # Every byte accounted for (no "\r" reached here): the rows are exactly the lines.
        total = frame["length"].sum() + frame.height - (0 if data.endswith(b"\n") else 1)
        if total != len(data):
            return None
        return frame.drop("length")

    def _split_exact(self, data: bytes, pending_streams: set[str]) -> pl.DataFrame | None:
        """Envelopes with the CRI regex on every line; handles partial (``P``) sequences."""
        try:
            lines = pl.read_csv(
                io.BytesIO(data),
                has_header=False,
                separator="\x1f",
                quote_char=None,
                schema={"line": pl.String},
                encoding="utf8",
            )
        except Exception:  # invalid UTF-8 or anything polars refuses
            return None
        if lines.height != data.count(b"\n") + (0 if data.endswith(b"\n") else 1):
            return None
        line = pl.col("line")
        length = line.str.len_bytes().fill_null(0).cast(pl.Int64)
        frame = lines.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("idx"),
            ((length + 1).cum_sum() - (length + 1)).alias("offset"),
            line.str.extract_groups(_CRI_PREFIX).alias("cri"),
            (length > self._options.max_line_bytes).alias("too_long"),
        ).unnest("cri")
        frame = frame.rename({"1": "prefix", "2": "cri_ts", "3": "stream", "4": "tag"})
        after_partial = self._after_partial(frame, pending_streams)
        slow = (
            line.is_null()
            | pl.col("too_long")
            | (pl.col("tag") == "P")
            | after_partial
            | (pl.col("prefix").is_null() & line.str.contains(rf"^{TS_PATTERN} "))
        )
        return frame.select(
            "idx",
            "offset",
            pl.when(pl.col("prefix").is_not_null())
            .then(line.str.slice(pl.col("prefix").str.len_chars()))
            .otherwise(line)
            .alias("content"),
            slow.fill_null(False).alias("slow"),
        )

    def _plan_frame(
        self,
        frame: pl.DataFrame,
        data: bytes,
        first_lineno: int,
        file: str | None,
        meta: PodMeta | None,
    ) -> BatchPlan:
        content = pl.col("content")
        kind = (
            pl.when(pl.col("slow"))
            .then(pl.lit("slow"))
            .when(content.str.starts_with("{"))
            .then(pl.lit("json"))
            .otherwise(pl.lit("ztunnel"))  # candidates: _ztunnel_text sends the rest back
        )
        frame = frame.select("idx", "offset", "content", kind.alias("kind"))
        context = _Context(first_lineno, file, meta, self._options)
        fast: pl.DataFrame | None = None
        slow_idx: list[pl.Series] = [frame.filter(pl.col("kind") == "slow")["idx"]]
        for name, parse in (("json", _envoy_json), ("ztunnel", _ztunnel_text)):
            part = frame.filter(pl.col("kind") == name)
            if part.height == 0:
                continue
            records, rejected = parse(part, context)
            # Both parts are in line order, so a linear merge keeps input order.
            fast = records if fast is None else fast.merge_sorted(records, ORDER)
            slow_idx.append(rejected)
        slow_rows = (
            frame.select("idx", "offset")
            .join(pl.concat(slow_idx).to_frame("idx"), on="idx", how="semi")
            .sort("idx")
        )
        slow = []
        for index, offset in slow_rows.iter_rows():
            end = data.find(b"\n", offset)
            slow.append((index, data[offset : len(data) if end < 0 else end + 1], offset))
        return BatchPlan(frame.height, first_lineno, slow, fast, len(data))

    @staticmethod
    def _after_partial(frame: pl.DataFrame, pending_streams: set[str]) -> pl.Expr:
        """Lines that finish a partial sequence (the previous line of their stream was ``P``)."""
        if not pending_streams and not (frame["tag"] == "P").any():
            return pl.lit(False)
        cri = frame.filter(pl.col("stream").is_not_null()).select("idx", "stream", "tag")
        previous = pl.col("tag").shift(1).over("stream")
        first = pl.int_range(pl.len()).over("stream") == 0
        marked = cri.filter(
            (previous == "P") | (first & pl.col("stream").is_in(sorted(pending_streams)))
        )["idx"]
        return pl.col("idx").is_in(marked.implode())


@dataclass(frozen=True)
class _Context:
    first_lineno: int
    file: str | None
    meta: PodMeta | None
    options: ParseOptions


def _base_columns(part: pl.DataFrame, ctx: _Context) -> dict[str, pl.Expr]:
    meta = ctx.meta
    return {
        "file": pl.lit(ctx.file, dtype=pl.String),
        "lineno": pl.col("idx") + ctx.first_lineno,
        "pod": pl.lit(meta.pod if meta else None, dtype=pl.String),
        "namespace": pl.lit(meta.namespace if meta else None, dtype=pl.String),
        "container": pl.lit(meta.container if meta else None, dtype=pl.String),
        ORDER: pl.col("idx") + ctx.first_lineno,
    }


def _finish(frame: pl.DataFrame, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    """Select RECORD_SCHEMA columns (nulls for the ones not given) + ORDER, typed."""
    exprs = [
        (columns[name] if name in columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in {**RECORD_SCHEMA, ORDER: pl.Int64()}.items()
    ]
    return frame.select(exprs)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={**RECORD_SCHEMA, ORDER: pl.Int64()})


def _lookup(
    frame: pl.DataFrame,
    keys: list[str],
    table: dict[tuple[Any, ...], dict[str, Any]],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Join per-distinct-key results (computed in Python) onto ``frame``; nulls as _NULL_KEY."""
    rows = [dict(zip(keys, key, strict=True)) | values for key, values in table.items()]
    lookup = pl.DataFrame(rows, schema={**dict.fromkeys(keys, pl.String()), **schema})
    keyed = frame.with_columns(
        pl.col(k).fill_null(_NULL_KEY).alias(f"__k{i}") for i, k in enumerate(keys)
    )
    lookup = lookup.rename({k: f"__k{i}" for i, k in enumerate(keys)})
    joined = keyed.join(
        lookup, on=[f"__k{i}" for i in range(len(keys))], how="left", maintain_order="left"
    )
    return joined.drop([f"__k{i}" for i in range(len(keys))])


def _distinct(frame: pl.DataFrame, keys: list[str]) -> list[tuple[Any, ...]]:
    return list(frame.select(pl.col(k).fill_null(_NULL_KEY) for k in keys).unique().iter_rows())


def _none(value: Any) -> Any:
    return None if value == _NULL_KEY else value


def _envoy_json(part: pl.DataFrame, ctx: _Context) -> tuple[pl.DataFrame, pl.Series]:
    buffer = part.select("content").write_csv(include_header=False, quote_style="never")
    try:
        decoded = pl.read_ndjson(
            io.BytesIO(buffer.encode()), schema=dict.fromkeys(ENVOY_JSON_KEYS, pl.String())
        )
    except Exception:  # one bad line spoils the chunk for read_ndjson: be exact instead
        return _empty(), part["idx"]
    if decoded.height != part.height:
        return _empty(), part["idx"]
    values: dict[str, pl.Expr] = {}
    for json_key, record_key in ENVOY_JSON_KEYS.items():
        column = pl.col(json_key)
        values[record_key] = (
            values[record_key].fill_null(column) if record_key in values else column
        )
    odd = pl.col("content").str.contains(r'":\s*(?:[\[{]|true|false)').alias("__odd")
    frame = pl.concat([part.select("idx", odd), decoded], how="horizontal").select(
        "idx", "__odd", *(expr.alias(key) for key, expr in values.items())
    )
    frame = frame.with_columns(
        pl.when(pl.col(k) == "-").then(None).otherwise(pl.col(k)).alias(k)
        for k in (*ENVOY_STRING_KEYS, *ENVOY_INT_KEYS)
    )
    ok = pl.col("time").str.contains(_UTC_TIME).fill_null(False)
    frame = frame.with_columns(
        pl.col("time")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC", strict=False)
        .alias("ts")
    )
    ok = ok & pl.col("ts").is_not_null()
    for key in ENVOY_INT_KEYS:
        ok = ok & (pl.col(key).is_null() | pl.col(key).str.contains(_DIGITS))
    # Objects, arrays and booleans as values: the per-line path decides what they mean.
    ok = ok & ~pl.col("__odd")
    # Derived values, once per distinct input, with the per-line functions.
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for raw_flags, details in _distinct(
        frame.filter(ok), ["response_flags", "response_code_details"]
    ):
        try:
            flags = parse_flags(_none(raw_flags))
        except BadFlags:
            table[(raw_flags, details)] = {
                "flags_ok": False,
                "response_flags_list": None,
                "signals": None,
                "reset_reason": None,
            }
            continue
        table[(raw_flags, details)] = {
            "flags_ok": True,
            "response_flags_list": list(flags),
            "signals": list(envoy_signals(flags, _none(details))),
            "reset_reason": reset_reason(_none(details)),
        }
    frame = _lookup(
        frame,
        ["response_flags", "response_code_details"],
        table,
        {
            "flags_ok": pl.Boolean(),
            "response_flags_list": pl.List(pl.String()),
            "signals": pl.List(pl.String()),
            "reset_reason": pl.String(),
        },
    )
    ok = ok & pl.col("flags_ok").fill_null(False)
    roles = ctx.options.roles
    meta = ctx.meta
    role_table = {
        (route, cluster): {
            "role": roles.envoy_role(
                {
                    "pod": meta.pod if meta else None,
                    "container": meta.container if meta else None,
                    "namespace": meta.namespace if meta else None,
                    "route_name": _none(route),
                    "upstream_cluster": _none(cluster),
                    "file": ctx.file,
                }
            )
        }
        for route, cluster in _distinct(frame, ["route_name", "upstream_cluster"])
    }
    frame = _lookup(frame, ["route_name", "upstream_cluster"], role_table, {"role": pl.String()})
    frame = frame.with_columns(ok.alias("__ok"))
    good = frame.filter(pl.col("__ok"))
    columns = _base_columns(good, ctx) | {
        "kind": pl.lit("envoy"),
        "format": pl.lit("envoy-json"),
        "time": pl.col("time"),
        "ts": pl.col("ts"),
        "role": pl.col("role"),
        "signals": pl.col("signals"),
        "response_flags": pl.col("response_flags_list"),
        "reset_reason": pl.col("reset_reason"),
        **{key: pl.col(key) for key in ENVOY_STRING_KEYS},
        **{key: pl.col(key).cast(pl.Int64) for key in ENVOY_INT_KEYS},
    }
    return _finish(good, columns), frame.filter(~pl.col("__ok"))["idx"]


def _ztunnel_text(part: pl.DataFrame, ctx: _Context) -> tuple[pl.DataFrame, pl.Series]:
    frame = part.select("idx", pl.col("content").str.splitn("\t", 5).alias("parts")).unnest("parts")
    frame = frame.rename(
        {
            "field_0": "time",
            "field_1": "level",
            "field_2": "target",
            "field_3": "message",
            "field_4": "kv",
        }
    )
    frame = frame.with_columns(pl.col("kv").str.extract_groups(_ZTUNNEL_FIELDS).alias("f")).unnest(
        "f"
    )
    names = [*_ZTUNNEL_KEYS, "error"]
    frame = frame.rename({str(i + 1): name for i, name in enumerate(names)})
    frame = frame.with_columns(
        pl.col("time")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC", strict=False)
        .alias("ts"),
        *(
            pl.col(k).str.strip_prefix('"').str.strip_suffix('"').alias(k)
            if k != "error"
            else pl.col(k)
            for k in names
        ),
    )
    frame = frame.with_columns(pl.col("duration").str.strip_suffix("ms"))
    ok = (
        pl.col("time").str.contains(_UTC_TIME).fill_null(False)
        & pl.col("ts").is_not_null()
        & pl.col("level").is_in(sorted(LEVELS)).fill_null(False)
        & (pl.col("target") == "access").fill_null(False)
        & pl.col("message").is_not_null()
        & pl.col("kv").is_not_null()
        & pl.col("src.addr").is_not_null()  # the regex matched (src.addr is always logged)
    )
    for key in ("bytes_sent", "bytes_recv", "duration"):
        ok = ok & (pl.col(key).is_null() | pl.col(key).str.contains(_DIGITS))
    table = {
        (error,): {
            "error_class": classify_error(_none(error)),
            "signals": list(ztunnel_signals(_none(error), classify_error(_none(error)))),
        }
        for (error,) in _distinct(frame, ["error"])
    }
    frame = _lookup(
        frame, ["error"], table, {"error_class": pl.String(), "signals": pl.List(pl.String())}
    )
    frame = frame.with_columns(ok.alias("__ok"))
    good = frame.filter(pl.col("__ok"))
    columns = _base_columns(good, ctx) | {
        "kind": pl.lit("ztunnel"),
        "format": pl.lit("ztunnel-text"),
        "time": pl.col("time"),
        "ts": pl.col("ts"),
        "role": pl.lit("ztunnel"),
        "signals": pl.col("signals"),
        "level": pl.col("level"),
        "message": pl.col("message"),
        "bytes_sent": pl.col("bytes_sent").cast(pl.Int64),
        "bytes_recv": pl.col("bytes_recv").cast(pl.Int64),
        "duration_ms": pl.col("duration").cast(pl.Int64),
        "error_class": pl.col("error_class"),
        **{record_key: pl.col(key) for key, record_key in ZTUNNEL_STRING_FIELDS.items()},
    }
    return _finish(good, columns), frame.filter(~pl.col("__ok"))["idx"]


def merge(
    plan: BatchPlan | None, sink: LineSink
) -> tuple[pl.DataFrame, int, tuple[Rejection, ...]]:
    """Records of both paths in input order, the ignored count and ordered rejections."""
    slow = records_frame(sink.records)
    rejections = tuple(rejection for _, rejection in sorted(sink.rejections, key=lambda r: r[0]))
    if plan is None or plan.fast is None or plan.fast.height == 0:
        return slow, sink.ignored, rejections
    if not sink.records:
        return plan.fast.drop(ORDER), sink.ignored, rejections
    slow = slow.with_columns(pl.Series(ORDER, sink.order, dtype=pl.Int64))
    merged = plan.fast.merge_sorted(slow, ORDER).drop(ORDER)
    return merged, sink.ignored, rejections
