"""`logwatch parse` end to end, and user-supplied Envoy format strings."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from parsers import PUBLIC_KEYS, BadFormat, ParseOptions, Record, compile_format, parse_line
from tests.parsers.golden import FIXTURES, GOLDEN


def run_parse(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "logwatch"), "parse", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_golden_records_and_summary(tmp_path: Path) -> None:
    sample = FIXTURES / "ztunnel.log"
    result = run_parse(str(sample))
    assert result.returncode == 0
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    golden = [
        orjson.loads(line) for line in (GOLDEN / "ztunnel.log.ndjson").read_text().splitlines()
    ]
    for record in golden:
        record["file"] = str(sample)
    assert records == golden
    assert all(tuple(r) == PUBLIC_KEYS for r in records)
    assert result.stderr.decode().splitlines()[-1] == "lines=34 records=28 ignored=6 malformed=0"


def test_cli_stdin_gzip_malformed_and_errors(tmp_path: Path) -> None:
    packed = tmp_path / "0.log.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "envoy-gateway.jsonl").read_bytes()))
    result = run_parse(str(packed), "-", stdin=b"not a log line\n\n")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 23
    err = result.stderr.decode().splitlines()
    assert err[0] == "<stdin>:1: unknown-format: not a log line"
    assert err[-1] == "lines=25 records=23 ignored=1 malformed=1"
    missing = run_parse(str(tmp_path / "nope.log"))
    assert missing.returncode != 0
    assert "No such file" in missing.stderr.decode() and "lines=0" in missing.stderr.decode()
    bad_option = run_parse("--envoy-format", "%REQ(:PATH)%", str(packed))
    assert bad_option.returncode == 2


def test_user_format_string() -> None:
    source = "%START_TIME% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS_LONG% rid=%REQ(X-REQUEST-ID)% up=%UPSTREAM_HOST% %DURATION%ms"
    line = "2025-07-18T03:33:20.115Z GET /a?b=c 503 UpstreamOverflow,UpstreamRetryLimitExceeded rid=abc up=10.0.0.1:80 12ms"
    options = ParseOptions(envoy_text_formats=(source,))
    record = parse_line(line, options=options)
    assert isinstance(record, Record)
    assert (record.format, record.method, record.path, record.response_code) == (
        "envoy-text",
        "GET",
        "/a?b=c",
        503,
    )
    assert record.response_flags == ("UO", "URX")
    assert record.signals == ("circuit_breaker", "retry_limit")
    assert (record.request_id, record.upstream_host, record.duration_ms) == (
        "abc",
        "10.0.0.1:80",
        12,
    )
    assert not isinstance(parse_line(line), Record)  # unknown without the format


def test_custom_start_time_format_and_truncated_header() -> None:
    source = '[%START_TIME(%Y/%m/%d %H:%M:%S)%] "%REQ(USER-AGENT):10%" %RESPONSE_CODE%'
    record = parse_line(
        '[2025/07/18 03:33:20] "curl/8.7.1" 200', options=ParseOptions(envoy_text_formats=(source,))
    )
    assert isinstance(record, Record)
    assert record.time == "2025-07-18T03:33:20.000000Z" and record.user_agent == "curl/8.7.1"


def test_format_without_start_time_is_refused() -> None:
    with pytest.raises(BadFormat):
        compile_format("%REQ(:PATH)% %RESPONSE_CODE%")


def test_reader_bounds_memory_on_an_endless_line() -> None:
    import io

    from logwatch.cli.parse import read_whole_lines

    data = b"a\n" + b"x" * 5000 + b"\nb\n" + b"y" * 3000
    pieces = list(read_whole_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=64))
    lines = b"".join(pieces).split(b"\n")
    assert lines[0] == b"a" and lines[1] == b"x" * 101 and lines[2] == b"b"
    assert lines[3] == b"y" * 101 and max(len(p) for p in pieces) < 400
    assert len(lines) == 5 and lines[4] == b""


def test_user_formats_take_precedence_in_the_batch_path_too() -> None:
    from parsers import StreamDecoder, frame_records

    # Matches Istio lines too, but reads the 5th token as the route: first match wins.
    source = '[%START_TIME%] "%REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %ROUTE_NAME% %DURATION(X)%'
    lines = (FIXTURES / "istio-text.log").read_bytes().splitlines()[:9]
    own = b'[2025-07-18T03:33:19.712Z] "GET /x HTTP/1.1" 429 RL my-route rest of line'
    data = b"\n".join([*lines, own]) + b"\n"
    for formats in ((source,), ()):
        options = ParseOptions(envoy_text_formats=formats)
        decoder = StreamDecoder("waypoint.log", options)
        chunk = decoder.feed(data)
        batch = frame_records(chunk.records)
        single = [
            parse_line(line, file="waypoint.log", lineno=n, options=options)
            for n, line in enumerate([*lines, own], 1)
        ]
        assert batch == [r for r in single if isinstance(r, Record)]
        if formats:
            assert len(batch) == 10 and batch[-1].route_name == "my-route"
            assert batch[0].route_name == "via_upstream"  # the user format matched first
        else:
            assert len(batch) == 9 and chunk.rejections[0].reason == "unknown-format"
