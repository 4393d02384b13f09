"""Per-stream decoding: bytes of one input stream -> record batches.

A ``StreamDecoder`` turns the bytes of one input stream (one log file followed across
rotations, stdin, or one Kafka partition's raw lines) into record batches:

    decoder = StreamDecoder(file="/var/log/pods/.../0.log", options=ParseOptions())
    chunk = decoder.feed(data)        # data: whole lines, each ending in b"\\n"
    ...
    chunk = decoder.finish()          # end of input: an unfinished CRI/docker partial
                                      # sequence is counted as malformed, never dropped

Guarantees:
- ``feed`` never raises on bad input: every line is counted exactly once as a record,
  ``ignored`` (not an access log) or a ``Rejection`` (malformed, with reason). Fragments of a
  CRI/docker partial sequence count once, as the sequence's outcome.
- Records come out in input order (of the line that completes them); ``lineno`` is 1-based,
  continues across feeds, and for a reassembled line is that of its first fragment.
- CRI ``P`` fragments are reassembled per stream (stdout/stderr separately) with a size cap
  (``max_line_bytes``); the partial buffer survives ``start_file`` so a sequence may straddle
  a rotation.
- ``pending_bytes`` is how many bytes already fed (since the last ``start_file``) belong to an
  unfinished partial sequence or follow its first fragment: a checkpoint must point at
  ``end_offset - pending_bytes`` to re-read them after a restart. Fragments carried over from
  the previous file are not re-readable from the new one and are not counted.
- A trailing piece of ``data`` without ``\\n`` is treated as a complete line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from parsers.batch import BatchParser, BatchPlan, merge
from parsers.content import LineContext, parse_content, parse_unwrapped
from parsers.envelope import open_envelope
from parsers.k8s_path import PodMeta, pod_meta_from_path
from parsers.options import ParseOptions
from parsers.outcome import Ignored, Rejection, excerpt
from parsers.record import Record


@dataclass(frozen=True)
class ParsedChunk:
    """The outcome of one ``feed``/``finish``.

    ``records`` has exactly the ``RECORD_SCHEMA`` columns in input order; ``lines`` counts
    physical lines consumed; ``ignored`` and ``rejections`` account for the rest.
    """

    records: pl.DataFrame
    lines: int
    ignored: int
    rejections: tuple[Rejection, ...]


@dataclass
class _Partial:
    file: str | None
    lineno: int
    start: int  # stream position of the first fragment; -1 when carried from an earlier file
    pieces: list[str] = field(default_factory=list)
    size: int = 0
    overflowed: bool = False


@dataclass
class LineSink:
    """Outcomes of the careful per-line path, in order, tagged with their line index."""

    records: list[Record] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    ignored: int = 0
    rejections: list[tuple[int, Rejection]] = field(default_factory=list)

    def add(self, index: int, outcome: Record | Ignored | Rejection) -> None:
        if isinstance(outcome, Record):
            self.records.append(outcome)
            self.order.append(index)
        elif isinstance(outcome, Ignored):
            self.ignored += 1
        else:
            self.rejections.append((index, outcome))


class StreamDecoder:
    """Decoder of one input stream; see the module docstring for the guarantees."""

    def __init__(
        self, file: str | None, options: ParseOptions | None = None, *, first_lineno: int = 1
    ) -> None:
        self._options = options or ParseOptions()
        self._batch = BatchParser(self._options)
        self._partials: dict[str, _Partial] = {}
        self._position = 0
        self.start_file(file, first_lineno)

    def start_file(self, file: str | None, first_lineno: int = 1) -> None:
        """Continue with another file (rotation): line numbers restart, partial buffers stay."""
        self._file = file
        self._meta: PodMeta | None = pod_meta_from_path(file)
        self._lineno = first_lineno
        self._position = 0
        for partial in self._partials.values():
            partial.start = -1

    @property
    def lineno(self) -> int:
        """The number the next physical line will get."""
        return self._lineno

    @property
    def pending_bytes(self) -> int:
        """Bytes fed since the first fragment of the oldest unfinished partial sequence."""
        starts = [p.start for p in self._partials.values() if p.start >= 0]
        return self._position - min(starts) if starts else 0

    def feed(self, data: bytes) -> ParsedChunk:
        """Decode whole lines. Never raises on bad input (see module docstring)."""
        if not data:
            return self._chunk(LineSink(), 0)
        plan = self._batch.plan(data, self._lineno, self._file, self._meta, set(self._partials))
        sink = LineSink()
        for index, raw, offset in plan.slow:
            self._decode_line(raw, plan.first_lineno + index, offset, sink)
        self._lineno += plan.count
        self._position += len(data)
        return self._chunk(sink, plan.count, plan)

    def finish(self) -> ParsedChunk:
        """End of input: every unfinished partial sequence becomes a rejection."""
        sink = LineSink()
        for partial in self._partials.values():
            if not partial.overflowed:
                sink.rejections.append(
                    (
                        0,
                        Rejection(
                            partial.file,
                            partial.lineno,
                            "partial-never-finished",
                            excerpt("".join(partial.pieces)),
                        ),
                    )
                )
        self._partials.clear()
        return self._chunk(sink, 0)

    def _chunk(self, sink: LineSink, lines: int, plan: BatchPlan | None = None) -> ParsedChunk:
        records, ignored, rejections = merge(plan, sink)
        return ParsedChunk(records, lines, ignored, rejections)

    def _decode_line(self, raw: bytes, lineno: int, offset: int, sink: LineSink) -> None:
        index = lineno
        if len(raw) > self._options.max_line_bytes:
            sink.add(index, Rejection(self._file, lineno, "line-too-long", excerpt(raw)))
            return
        if b"\0" in raw:
            sink.add(index, Rejection(self._file, lineno, "nul-byte", excerpt(raw)))
            return
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            sink.add(index, Rejection(self._file, lineno, "invalid-utf8", excerpt(raw)))
            return
        line = line.rstrip("\r\n") if line.endswith("\n") else line
        envelope = open_envelope(line)
        # Only runtime envelopes (CRI, docker) continue a partial sequence of their stream.
        wrapped = envelope.kind in ("cri", "docker")
        partial = self._partials.get(envelope.stream) if wrapped else None
        if envelope.partial or partial is not None:
            if partial is None:
                partial = _Partial(self._file, lineno, self._position + offset)
                self._partials[envelope.stream] = partial
            if not partial.overflowed:
                partial.pieces.append(envelope.content)
                partial.size += len(envelope.content.encode())
                if partial.size > self._options.max_line_bytes:
                    partial.overflowed = True
                    partial.pieces.clear()
                    sink.add(
                        index,
                        Rejection(
                            partial.file, partial.lineno, "line-too-long", "partial sequence"
                        ),
                    )
            if envelope.partial:
                return
            del self._partials[envelope.stream]
            if partial.overflowed:
                return
            content = "".join(partial.pieces)
            ctx = LineContext(
                partial.file, partial.lineno, pod_meta_from_path(partial.file), self._options
            )
        else:
            ctx = LineContext(self._file, lineno, self._meta, self._options)
            kubectl = envelope.kind == "kubectl"
            sink.add(index, parse_unwrapped(envelope.content, line, kubectl, ctx))
            return
        sink.add(index, parse_content(content, ctx))
