"""The batch path: a chunk of whole lines -> records, column-wise, plus the lines it left out.

The common lines (CRI ``F`` or unwrapped Envoy JSON with a start time, ztunnel text access
lines in canonical field order) are parsed with polars expressions. Everything else, and every
line whose values are not plainly valid, is handed to the exact per-line path
(``parsers.content``) in ``BatchPlan.slow``; the decoder parses those in order and ``merge``
interleaves both by line number. Derived values (flags, signals, reset reason, role, error
class) are computed by the per-line functions once per distinct input value and joined back,
so both paths agree by construction.

CRI envelopes are split at the first `` stdout F `` of a line when what precedes it is a
timestamp; chunks with CRI partial (``P``) lines or a pending partial sequence use a regex split
instead. Lines polars would read differently (NUL, ``\\r``,
``\\x1f``, invalid UTF-8) are cut out to the per-line path and the rest of the chunk is still
planned column-wise; chunks with docker json-file lines take the per-line path entirely.

Cost notes: a chunk is split into kinds once (``partition_by``); each kind's records come
back in line order and one sort by line number interleaves them. The kinds are independent,
so the less common ones are parsed on a helper thread (polars releases the GIL) while the
calling thread parses the JSON lines.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from parsers.columns import ORDER, ColumnContext, helper
from parsers.envelope import TS_PATTERN
from parsers.envoy_columns import envoy_text_columns
from parsers.frame import records_frame
from parsers.json_columns import json_columns
from parsers.k8s_path import PodMeta
from parsers.options import ParseOptions
from parsers.outcome import Rejection
from parsers.ztunnel_columns import ztunnel_text_columns

if TYPE_CHECKING:
    from parsers.stream import LineSink

_CRI_PREFIX = rf"^(({TS_PATTERN}) (stdout|stderr) ([PF])(?::\S*)? )"


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


class _DockerLines(Exception):
    """A docker json-file line was found: the whole chunk takes the per-line path."""


def _no_docker(data: bytes) -> bytes:
    """``data``, after checking that it has no docker json-file line (raises ``_DockerLines``)."""
    if data.startswith(b'{"log":') or b'\n{"log":' in data:
        raise _DockerLines
    return data


def _read_lines(data: bytes) -> pl.DataFrame | None:
    """One ``line`` column, one row per line (blank lines are null); ``None`` if refused."""
    try:
        return pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
            encoding="utf8",
        )
    except Exception:  # invalid UTF-8 or anything polars refuses
        return None


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


def _in_line_order(parts: list[pl.DataFrame]) -> pl.DataFrame | None:
    """The records of several kinds of lines, each already in line order, as one frame in line
    order (one sort: ``merge_sorted`` is much slower on these wide frames with list columns)."""
    parts = [part for part in parts if part.height]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return pl.concat(parts).sort(ORDER)


def _has_partial_marker(lines: pl.DataFrame) -> bool:
    """Whether any line has a CRI ``P`` tag marker anywhere (conservative)."""
    return bool(lines.select(pl.col("line").str.contains(" std(?:out|err) P ").any()).item())


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
        try:
            return self._plan_pieces(data, first_lineno, file, meta, pending_streams)
        except _DockerLines:
            return _all_slow(data, first_lineno)  # docker json-file: partials need the exact path

    def _plan_pieces(
        self,
        data: bytes,
        first_lineno: int,
        file: str | None,
        meta: PodMeta | None,
        pending_streams: set[str],
    ) -> BatchPlan:
        """``plan`` without the docker check: raises ``_DockerLines`` on finding such a line."""
        pieces: list[BatchPlan] = []
        position, lineno, pending = 0, first_lineno, pending_streams
        # Most chunks have no odd line: the whole chunk is read on a helper thread while this
        # one looks for one (and that read goes unused when there is).
        whole = helper().submit(_read_lines, data)

        def plan_clean(clean: bytes) -> BatchPlan | None:
            lines = whole.result() if len(clean) == len(data) else _read_lines(clean)
            return self._plan_clean(clean, lines, lineno, file, meta, pending)

        for _ in range(_MAX_ODD_LINES):
            rest = data[position:] if position else data
            odd = _first_odd_line(rest, check_utf8=False)
            clean = odd[0] if odd is not None else len(rest)
            piece = plan_clean(rest[:clean]) if clean else None
            if clean and piece is None:
                # polars refused the clean-looking part: invalid UTF-8 cuts it shorter.
                odd = _first_odd_line(rest[:clean], check_utf8=True) or odd
                if odd is None:
                    break
                clean = odd[0]
                piece = plan_clean(rest[:clean]) if clean else None
                if clean and piece is None:
                    piece = _all_slow(_no_docker(rest[:clean]), lineno)
            if piece is not None:
                pieces.append(piece)
                lineno += piece.count
            if odd is None:
                return _combine(pieces, first_lineno)
            start, end = odd
            odd_line = _no_docker(rest[start:end])
            pieces.append(BatchPlan(1, lineno, [(0, odd_line, 0)], size=end - start))
            lineno += 1
            position += end
            # The odd line may have been a partial fragment: re-check both streams after it.
            pending = pending_streams | {"stdout", "stderr"}
            if position >= len(data):
                return _combine(pieces, first_lineno)
        pieces.append(_all_slow(_no_docker(data[position:]), lineno))
        return _combine(pieces, first_lineno)

    def _plan_clean(
        self,
        data: bytes,
        lines: pl.DataFrame | None,
        first_lineno: int,
        file: str | None,
        meta: PodMeta | None,
        pending_streams: set[str],
    ) -> BatchPlan | None:
        """The plan of ``data`` (no odd line) given its ``lines`` (``None``: polars refused it)."""
        if lines is None:
            return None
        if lines.select(pl.col("line").str.starts_with('{"log":').any()).item():
            raise _DockerLines
        frame: pl.DataFrame | None = None
        if not pending_streams:
            frame = self._split_marked(lines, data)
        if frame is None:
            frame = self._split_exact(lines, data, pending_streams)
        if frame is None:
            return None
        return self._plan_frame(frame, data, first_lineno, file, meta)

    def _split_marked(self, lines: pl.DataFrame, data: bytes) -> pl.DataFrame | None:
        """Envelopes of CRI ``stdout F`` lines by locating the first `` stdout F `` marker.

        A line is CRI when the text before its first marker is exactly a timestamp; anything
        else is unwrapped content (or, starting with ``<timestamp> ``, left to the per-line
        path: kubectl prefix, ``P`` fragments, stderr). ``None`` when the lines do not add up
        or may hold a CRI partial (``P``) sequence, which needs ``_split_exact``.
        """
        line = pl.col("line")
        # The marker position and line length are used several times below: computed once
        # (eager expressions are not deduplicated). One regex per line: the timestamp a line
        # starts with (then a space), if any. The timestamp grammar has one match length, so
        # the text before the marker is exactly a timestamp iff that timestamp ends where the
        # marker starts.
        measured = lines.lazy().with_columns(
            line.str.find(" stdout F ", literal=True).cast(pl.Int64).alias("position"),
            line.str.extract(f"^({TS_PATTERN}) ", 1).str.len_bytes().cast(pl.Int64).alias("stamp"),
            line.str.len_bytes().fill_null(0).cast(pl.Int64).alias("length"),
        )
        position, stamp, length = pl.col("position"), pl.col("stamp"), pl.col("length")
        cri = (stamp == position).fill_null(False)
        other_envelope = ~cri & stamp.is_not_null()  # kubectl prefix, stderr, P fragment, ...
        slow = line.is_null() | (length > self._options.max_line_bytes) | other_envelope
        offset = (length + 1).cum_sum() - (length + 1)
        frame = measured.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("idx"),
            offset.alias("offset"),
            pl.when(cri).then(line.str.slice(position + 10)).otherwise(line).alias("content"),
            # Where the content starts in ``data``: JSON is decoded from those bytes.
            pl.when(cri).then(offset + position + 10).otherwise(offset).alias("start"),
            slow.alias("slow"),
            length,
            other_envelope.any().alias("other_envelope"),
        ).collect(engine="in-memory")  # about 3 % of the parse less than the streaming engine
        # A P fragment starts with a timestamp but no `` stdout F ``: only when such lines exist
        # is the (more costly) search for partial markers needed.
        if frame.height and frame["other_envelope"][0] and _has_partial_marker(lines):
            return None
        # Every byte accounted for (no "\r" reaches here): the rows are exactly the lines.
        total = frame["length"].sum() + frame.height - (0 if data.endswith(b"\n") else 1)
        if total != len(data):
            return None
        return frame.drop("length", "other_envelope")

    def _split_exact(
        self, lines: pl.DataFrame, data: bytes, pending_streams: set[str]
    ) -> pl.DataFrame | None:
        """Envelopes with the CRI regex on every line; handles partial (``P``) sequences."""
        if lines.height != data.count(b"\n") + (not data.endswith(b"\n")):
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
            (pl.col("offset") + pl.col("prefix").str.len_bytes().fill_null(0)).alias("start"),
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
            .when(content.str.starts_with("["))
            .then(pl.lit("text"))
            .otherwise(pl.lit("ztunnel"))  # candidates: ztunnel_text_columns sends the rest back
        )
        frame = frame.select("idx", "offset", "start", "content", kind.alias("kind"))
        context = ColumnContext(first_lineno, file, meta, self._options)
        by_kind = {
            key[0]: part
            for key, part in frame.partition_by("kind", maintain_order=True, as_dict=True).items()
        }
        slow_idx: list[pl.Series] = [by_kind["slow"]["idx"]] if "slow" in by_kind else []
        # The kinds are independent and polars releases the GIL: text and ztunnel lines are
        # parsed on a helper thread while this one parses the (usually far more) JSON lines.
        others = [
            helper().submit(parse, by_kind[name], context)
            for name, parse in (("text", envoy_text_columns), ("ztunnel", ztunnel_text_columns))
            if name in by_kind
        ]
        results = [json_columns(by_kind["json"], data, context)] if "json" in by_kind else []
        results += [future.result() for future in others]
        parts = [records for records, _ in results]
        slow_idx += [rejected for _, rejected in results]
        fast = _in_line_order(parts)
        slow: list[tuple[int, bytes, int]] = []
        slow_indices = pl.concat(slow_idx) if slow_idx else pl.Series("idx", [], pl.Int64)
        if slow_indices.len() == 0:  # the usual case: skip the lookup below entirely
            return BatchPlan(frame.height, first_lineno, slow, fast, len(data))
        slow_rows = frame.select("idx", "offset").filter(
            pl.col("idx").is_in(slow_indices.implode())
        )
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
