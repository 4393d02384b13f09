"""Bad input is counted as malformed (or ignored), never a crash, never a lost neighbour."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import ParseOptions, Record, Rejection, StreamDecoder, frame_records, parse_line
from tests.parsers.golden import FIXTURES

GOOD = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines(keepends=True)[0]
GOOD_ZT = (FIXTURES / "ztunnel.log").read_bytes().splitlines(keepends=True)[0]
CRI_GOOD = b"2025-07-18T03:33:20.116830544Z stdout F " + GOOD


def decode_all(
    data: bytes, options: ParseOptions | None = None
) -> tuple[list[Record], int, list[Rejection], int]:
    decoder = StreamDecoder("f.log", options)
    chunk = decoder.feed(data)
    end = decoder.finish()
    return (
        frame_records(chunk.records),
        chunk.ignored,
        [*chunk.rejections, *end.rejections],
        chunk.lines,
    )


def assert_neighbours_survive(bad: bytes, expected_reason: str | None = None) -> None:
    data = GOOD + bad + b"\n" + CRI_GOOD + GOOD_ZT
    records, ignored, rejections, lines = decode_all(data)
    assert lines == 4
    assert [r.lineno for r in records if r.lineno != 2] == [1, 3, 4]
    accounted = len(records) + ignored + len(rejections)
    assert accounted == 4
    if expected_reason is not None:
        assert [r.reason for r in rejections] == [expected_reason]
        assert rejections[0].lineno == 2 and len(rejections[0].detail) < 200


def test_named_bad_lines() -> None:
    assert_neighbours_survive(b"\xff\xfe garbage", "invalid-utf8")
    assert_neighbours_survive(b'{"start_time":"2025-07-18T03:33:20.115Z"\0}', "nul-byte")
    assert_neighbours_survive(GOOD[:200], "truncated-json")
    assert_neighbours_survive(b'{"start_time": nope}', "bad-json")
    assert_neighbours_survive(b"hello world", "unknown-format")
    assert_neighbours_survive(
        b'2025-07-18T03:33:20.718599Z\tinfo\taccess\tconnection complete\tsrc.addr=1.2.3.4:5 error="never closed',
        "unterminated-quote",
    )
    assert_neighbours_survive(
        GOOD.replace(b'"response_code":200', b'"response_code":"abc"').rstrip(b"\n"),
        "bad-field:response_code",
    )
    assert_neighbours_survive(
        GOOD.replace(b'"response_flags":"-"', b'"response_flags":"u o"').rstrip(b"\n"),
        "bad-field:response_flags",
    )
    assert_neighbours_survive(b"", None)  # blank: ignored


def test_ten_megabyte_line() -> None:
    huge = b'{"start_time":"' + b"x" * (10 << 20) + b'"}'
    assert_neighbours_survive(huge, "line-too-long")


def test_oversized_partial_sequence_is_one_rejection() -> None:
    options = ParseOptions(max_line_bytes=1000)
    fragment = b"2025-07-18T03:33:20.1Z stdout P " + b"a" * 600 + b"\n"
    data = fragment * 3 + b"2025-07-18T03:33:20.1Z stdout F tail\n" + CRI_GOOD
    records, _ignored, rejections, lines = decode_all(data, options)
    assert lines == 5 and len(records) == 1 and records[0].lineno == 5
    assert [(r.reason, r.lineno) for r in rejections] == [("line-too-long", 1)]


def test_partial_never_finished() -> None:
    data = (
        b"2025-07-18T03:33:20.1Z stdout P "
        + GOOD[:100]
        + b"\n"
        + b"2025-07-18T03:33:20.2Z stderr F "
        + GOOD
    )
    records, _, rejections, _ = decode_all(data)
    assert [r.lineno for r in records] == [2]
    assert [(r.reason, r.lineno) for r in rejections] == [("partial-never-finished", 1)]


def test_parse_line_never_raises_on_named_cases() -> None:
    for bad in (b"\xff", b"\0", b"{", b"[1]", b"{}", b"2025-07-18T03:33:20Z stdout P x", b"\t\t\t"):
        assert not isinstance(parse_line(bad), Record)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_or_eat_neighbours(noise: bytes) -> None:
    line = noise.replace(b"\n", b" ")
    records, ignored, rejections, lines = decode_all(GOOD + line + b"\n" + CRI_GOOD + GOOD_ZT)
    assert lines == 4
    assert {1, 3, 4} <= {r.lineno for r in records}
    assert len(records) + ignored + len(rejections) >= 4


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(GOOD) - 2),
    st.sampled_from([b"", b"\xc3", b"\0", b'"', b"\\"]),
)
def test_cut_or_corrupted_json(cut: int, junk: bytes) -> None:
    line = GOOD[:cut] + junk
    records, ignored, rejections, _ = decode_all(GOOD + line + b"\n" + CRI_GOOD)
    assert [r.lineno for r in records if r.lineno != 2] == [1, 3]
    assert len(records) + ignored + len(rejections) == 3
