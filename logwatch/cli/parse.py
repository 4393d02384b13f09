"""``logwatch parse [PATH ...]``: access-log lines -> NDJSON records on stdout.

Stdout gets one record per line in input order, keys in ``PUBLIC_KEYS`` order. Stderr gets one
``file:line: reason: detail`` line per malformed line and, last, the summary
``lines=N records=N ignored=N malformed=N``. Exit status is 0 unless the command itself fails
(bad option, unreadable file); malformed input is data.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

import click

from parsers import PUBLIC_KEYS, ParsedChunk, ParseOptions, StreamDecoder

# Read size; chunks are cut at the last newline so the decoder sees whole lines.
CHUNK_BYTES = 8 << 20


@dataclass
class Totals:
    lines: int = 0
    records: int = 0
    ignored: int = 0
    malformed: int = 0

    def summary(self) -> str:
        return (
            f"lines={self.lines} records={self.records} "
            f"ignored={self.ignored} malformed={self.malformed}"
        )


def read_whole_lines(
    stream: IO[bytes], max_line_bytes: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """Yield chunks of ``stream`` that end at a newline (the last one may not).

    Memory stays bounded: a line longer than ``max_line_bytes`` is yielded cut to
    ``max_line_bytes + 1`` bytes (so the decoder rejects it as too long, once) and the rest of
    it is skipped up to its newline.
    """
    carry = b""
    skipping = False
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            if carry and not skipping:
                yield carry
            return
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                continue
            skipping, block = False, block[newline + 1 :]
        data = carry + block
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield data[:cut]
        if len(carry) > max_line_bytes:
            yield carry[: max_line_bytes + 1] + b"\n"
            carry, skipping = b"", True


def _open(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _emit(chunk: ParsedChunk, name: str, totals: Totals, out: BinaryIO) -> None:
    totals.lines += chunk.lines
    totals.records += chunk.records.height
    totals.ignored += chunk.ignored
    totals.malformed += len(chunk.rejections)
    for rejection in chunk.rejections:
        where = rejection.file if rejection.file is not None else name
        click.echo(f"{where}:{rejection.lineno}: {rejection.reason}: {rejection.detail}", err=True)
    if chunk.records.height:
        out.write(chunk.records.select(PUBLIC_KEYS).write_ndjson().encode())


def _parse_stream(
    stream: IO[bytes], file: str | None, name: str, options: ParseOptions, totals: Totals
) -> None:
    decoder = StreamDecoder(file, options)
    out = sys.stdout.buffer
    for data in read_whole_lines(stream, options.max_line_bytes):
        _emit(decoder.feed(data), name, totals, out)
    _emit(decoder.finish(), name, totals, out)
    out.flush()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True, dir_okay=False))
@click.option(
    "--envoy-format",
    "envoy_formats",
    multiple=True,
    metavar="FORMAT",
    help="An extra Envoy text access-log format string (repeatable).",
)
def parse(paths: tuple[str, ...], envoy_formats: tuple[str, ...]) -> None:
    """Print the access-log records of PATHs (stdin when none or '-') as NDJSON."""
    from parsers.envoy_format import BadFormat, compile_format

    for source in envoy_formats:
        try:
            compile_format(source)
        except BadFormat as exc:
            raise click.BadParameter(str(exc), param_hint="--envoy-format") from exc
    options = ParseOptions(envoy_text_formats=envoy_formats)
    totals = Totals()
    try:
        for path in paths or ("-",):
            try:
                stream = _open(path)
            except OSError as exc:
                raise click.FileError(path, exc.strerror or str(exc)) from exc
            file = None if path == "-" else path
            try:
                _parse_stream(stream, file, "<stdin>" if file is None else path, options, totals)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise click.FileError(path, str(exc)) from exc
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()
    finally:
        click.echo(totals.summary(), err=True)
