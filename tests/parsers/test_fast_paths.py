"""Faster ways to the same values: each agrees with the general way it stands in for."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import Record, StreamDecoder, frame_records, parse_line
from parsers.columns import TIME_FORMAT, UTC_TIME, utc_timestamps
from parsers.ztunnel_fields import _ANY_FIELDS, ZTUNNEL_FIELD_KEYS, ZTUNNEL_KEYS, ztunnel_fields

_USUAL_KEYS = [key for key in ZTUNNEL_KEYS if not key.endswith(".cluster")]
_PLAIN = st.sampled_from(["10.0.0.1:80", "12", "7ms", "outbound", "a=b", "", "dst.addr=1"])
_ODD = st.one_of(
    st.sampled_from(['x"y', "a\\b", "\t", '"', "x y"]),
    st.text(alphabet='ab "\\=\t.:', max_size=8),
)


def _kv(draw: st.DrawFn) -> str:
    keys = draw(st.sampled_from([_USUAL_KEYS, list(ZTUNNEL_KEYS), _USUAL_KEYS[:-1]]))
    odd_at = draw(st.integers(0, 2 * len(keys)))  # at most one odd value, in half the lines
    fields = []
    for at, key in enumerate(keys):
        value = draw(_ODD if at == odd_at else _PLAIN)
        fields.append(f'{key}="{value}"' if draw(st.booleans()) else f"{key}={value}")
    error = draw(st.sampled_from(["", ' error="io error: refused (os error 111)"', ' error="a"b"']))
    return " ".join(fields) + error + draw(st.sampled_from(["", "", " ", "\t", " x"]))


@st.composite
def _kv_lists(draw: st.DrawFn) -> list[str]:
    return [_kv(draw) for _ in range(draw(st.integers(1, 6)))]


@settings(max_examples=150, deadline=None)
@given(_kv_lists())
def test_usual_ztunnel_field_sets_read_as_with_the_general_pattern(kvs: list[str]) -> None:
    frame = pl.DataFrame(
        {"idx": range(len(kvs)), "kv": kvs}, schema={"idx": pl.Int64, "kv": pl.String}
    )
    general = frame.with_columns(pl.col("kv").str.extract_groups(_ANY_FIELDS).alias("f")).unnest(
        "f"
    )
    general = general.rename({str(i + 1): key for i, key in enumerate(ZTUNNEL_FIELD_KEYS)})
    assert ztunnel_fields(frame, "kv").equals(general)


@settings(max_examples=60, deadline=None)
@given(_kv_lists(), st.sampled_from(["info", "error"]))
def test_usual_ztunnel_field_sets_agree_between_paths(kvs: list[str], level: str) -> None:
    lines = [
        f"2025-07-18T03:33:20.718599Z\t{level}\taccess\tconnection complete\t{kv}".encode()
        for kv in kvs
    ]
    chunk = StreamDecoder("zt.log").feed(b"\n".join(lines) + b"\n")
    single = [parse_line(line, file="zt.log", lineno=n) for n, line in enumerate(lines, 1)]
    assert frame_records(chunk.records) == [r for r in single if isinstance(r, Record)]


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def _times(draw: st.DrawFn) -> list[str]:
    fraction = draw(st.sampled_from(["", ".123", ".123456", ".123456789"]))

    def one() -> str:
        digits = "".join(draw(_DIGITS) for _ in range(14))
        # Mostly plausible dates, some impossible ones (month 13, day 31 in June, hour 24...).
        stamp = draw(
            st.one_of(st.datetimes().map(lambda t: t.strftime("%Y%m%d%H%M%S")), st.just(digits))
        )
        d = stamp.zfill(14)
        return f"{d[:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}{fraction}Z"

    return [one() for _ in range(draw(st.integers(1, 8)))]


@settings(max_examples=200, deadline=None)
@given(_times())
def test_fixed_width_times_parse_as_with_the_general_format(times: list[str]) -> None:
    frame = pl.DataFrame({"time": times})
    assert frame["time"].str.contains(UTC_TIME).all()
    general = pl.col("time").str.to_datetime(
        TIME_FORMAT, time_unit="us", time_zone="UTC", strict=False
    )
    assert frame.select(utc_timestamps(frame["time"])).equals(frame.select(general))
