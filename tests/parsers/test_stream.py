"""Streaming: chunking does not matter, rotation keeps partials, pending bytes, batch == per-line."""

from __future__ import annotations

import itertools
import random

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import RECORD_SCHEMA, Record, StreamDecoder, frame_records, parse_line
from tests.parsers.golden import FIXTURES, SAMPLES

MIXED = b"".join(p.read_bytes() for p in SAMPLES if p.name != "real-lines.txt")


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[pl.DataFrame, list[tuple[int, str]], int]:
    decoder = StreamDecoder("mixed.log")
    lines = data.splitlines(keepends=True)
    bounds = sorted({min(c, len(lines)) for c in cuts} | {0, len(lines)})
    frames, rejections, ignored = [], [], 0
    for start, end in itertools.pairwise(bounds):
        chunk = decoder.feed(b"".join(lines[start:end]))
        frames.append(chunk.records)
        rejections += [(r.lineno, r.reason) for r in chunk.rejections]
        ignored += chunk.ignored
    end_chunk = decoder.finish()
    rejections += [(r.lineno, r.reason) for r in end_chunk.rejections]
    return pl.concat([*frames, end_chunk.records]), rejections, ignored


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=120), max_size=12))
def test_any_split_at_line_boundaries_gives_the_same_records(cuts: list[int]) -> None:
    whole, whole_rejections, whole_ignored = feed_in_pieces(MIXED, [])
    split, split_rejections, split_ignored = feed_in_pieces(MIXED, cuts)
    assert split.schema == pl.Schema(RECORD_SCHEMA)
    assert split.equals(whole)
    assert split_rejections == whole_rejections and split_ignored == whole_ignored


def test_batch_path_and_per_line_path_agree_on_every_fixture_line() -> None:
    for sample in SAMPLES:
        decoder = StreamDecoder(sample.name)
        batch = {r.lineno: r for r in frame_records(decoder.feed(sample.read_bytes()).records)}
        for lineno, raw in enumerate(sample.read_bytes().splitlines(), start=1):
            if lineno in batch and not _is_fragment(raw):
                single = parse_line(raw, file=sample.name, lineno=lineno)
                assert single == batch[lineno], (sample.name, lineno)


def _is_fragment(raw: bytes) -> bool:
    return b" stdout P " in raw[:45] or raw.startswith(b'{"log":')


def test_fast_path_agrees_with_per_line_path_on_generated_lines() -> None:
    from bench.parse import generate

    data, _ = generate(3000, seed=11)
    decoder = StreamDecoder("/var/log/pods/default_envoy-default-gw-abc_0a1b/envoy/0.log")
    records = frame_records(decoder.feed(data).records)
    assert len(records) == 3000
    lines = data.splitlines()
    for record in random.Random(3).sample(records, 300):
        single = parse_line(lines[record.lineno - 1], file=decoder_file(), lineno=record.lineno)
        assert single == record


def decoder_file() -> str:
    return "/var/log/pods/default_envoy-default-gw-abc_0a1b/envoy/0.log"


def test_partial_sequence_straddles_rotation_and_pending_bytes() -> None:
    lines = (FIXTURES / "cri-expected-reassembled-line.json").read_bytes().rstrip(b"\n")
    first = b"2025-07-18T03:33:24.031266702Z stdout P " + lines[:300] + b"\n"
    second = b"2025-07-18T03:33:24.031339120Z stdout F " + lines[300:] + b"\n"
    decoder = StreamDecoder("/var/log/pods/ns_pod_uid/envoy/0.log.20250718-033320")
    chunk = decoder.feed(
        b"2025-07-18T03:33:24.0Z stderr F [2025-07-18 03:33:24.031][27][info][x] y\n" + first
    )
    assert chunk.records.height == 0 and chunk.ignored == 1
    assert decoder.pending_bytes == len(first)
    decoder.start_file("/var/log/pods/ns_pod_uid/envoy/0.log")
    assert decoder.pending_bytes == 0 and decoder.lineno == 1
    chunk = decoder.feed(second)
    (record,) = frame_records(chunk.records)
    assert isinstance(record, Record)
    assert (record.file, record.lineno) == (
        "/var/log/pods/ns_pod_uid/envoy/0.log.20250718-033320",
        2,
    )
    assert record.request_id == "0c7a3d1e-2d55-4a39-b0a5-4b7fd2f6a0c9"
    assert decoder.pending_bytes == 0 and decoder.finish().rejections == ()


def test_first_lineno_and_empty_feed() -> None:
    decoder = StreamDecoder(None, first_lineno=41)
    assert decoder.feed(b"").lines == 0
    chunk = decoder.feed((FIXTURES / "envoy-gateway.jsonl").read_bytes())
    assert frame_records(chunk.records)[0].lineno == 41 and decoder.lineno == 64


def _fixture_lines() -> list[bytes]:
    return [
        line
        for sample in SAMPLES
        if sample.name not in ("cri.log", "cri-ztunnel.log", "docker-json.log", "real-lines.txt")
        for line in sample.read_bytes().splitlines()
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["raw", "stdout", "stderr", "kubectl"])),
        min_size=1,
        max_size=60,
    )
)
def test_batch_and_per_line_agree_under_any_envelope_mix(picks: list[tuple[int, str]]) -> None:
    pool = _fixture_lines()
    lines = []
    for pick, envelope in picks:
        payload = pool[pick % len(pool)]
        if envelope == "raw":
            lines.append(payload)
        elif envelope == "kubectl":
            lines.append(b"2025-07-18T03:33:20.1Z " + payload)
        else:
            lines.append(b"2025-07-18T03:33:20.116830544Z " + envelope.encode() + b" F " + payload)
    decoder = StreamDecoder(
        "/var/log/containers/waypoint-1_default_istio-proxy-" + "b" * 64 + ".log"
    )
    chunk = decoder.feed(b"\n".join(lines) + b"\n")
    batch = frame_records(chunk.records)
    single = [
        parse_line(line, file=decoder_file_k8s(), lineno=n) for n, line in enumerate(lines, 1)
    ]
    assert batch == [r for r in single if isinstance(r, Record)]
    assert chunk.ignored + len(chunk.rejections) + len(batch) == len(lines)


def decoder_file_k8s() -> str:
    return "/var/log/containers/waypoint-1_default_istio-proxy-" + "b" * 64 + ".log"


def test_marker_inside_content_falls_back_to_the_exact_split() -> None:
    line = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[0]
    odd = line.replace(b"Firefox/128.0", b"agent stdout F x")
    data = (
        b"2025-07-18T03:33:20.1Z stdout F "
        + odd
        + b"\n"
        + b"2025-07-18T03:33:20.2Z stdout F "
        + line
        + b"\n"
    )
    records = frame_records(StreamDecoder(None).feed(data).records)
    assert [r.user_agent for r in records] == [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 agent stdout F x",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ]


def test_odd_lines_are_cut_out_and_the_rest_stays_on_the_batch_path() -> None:
    from parsers import ParseOptions
    from parsers.batch import BatchParser

    good = (FIXTURES / "envoy-gateway.jsonl").read_bytes()
    odd = [b"bad \xff utf8\n", b"nul \0 byte\n", b"carriage\r return\n", b"unit\x1fsep\n"]
    data = good + b"".join(line + good for line in odd)
    plan = BatchParser(ParseOptions()).plan(data, 1, None, None, set())
    assert plan.count == 23 * 5 + 4 and plan.size == len(data)
    assert plan.fast is not None and plan.fast.height == 23 * 5
    assert [raw for _, raw, _ in plan.slow] == odd
    assert all(data[offset : offset + len(raw)] == raw for _, raw, offset in plan.slow)
    chunk = StreamDecoder(None).feed(data)
    assert chunk.records.height == 23 * 5
    assert [r.reason for r in chunk.rejections] == [
        "invalid-utf8",
        "nul-byte",
        "unknown-format",
        "unknown-format",
    ]
    assert [r.lineno for r in chunk.rejections] == [24, 48, 72, 96]


def test_unwrapped_line_does_not_join_a_pending_partial_sequence() -> None:
    line = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[0]
    data = (
        b"2025-07-18T03:33:20.1Z stdout P " + line[:100] + b"\n"
        + line + b"\n"  # a raw line in between: its own record
        + b"2025-07-18T03:33:20.2Z stdout F " + line[100:] + b"\n"
    )  # fmt: skip
    decoder = StreamDecoder(None)
    records = frame_records(decoder.feed(data).records)
    assert [r.lineno for r in records] == [2, 1]
    assert records[0].request_id == records[1].request_id
    assert decoder.finish().rejections == ()


def test_json_edge_values_agree_between_paths() -> None:
    base = (FIXTURES / "ztunnel.log").read_bytes().splitlines()[28]  # ztunnel JSON, access
    envoy = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[0]
    variants = [
        base,
        base.replace(b'"message":"connection complete"', b'"message":5'),
        base.replace(b'"level":"info"', b'"level":"INFO"'),
        base.replace(b'"scope":"access"', b'"scope":null,"target":"access"'),
        base.replace(b'"time":', b'"timestamp":'),
        base.replace(b'"time":', b'"time":null,"timestamp":'),
        base.replace(b'"bytes_sent":232', b'"bytes_sent":232.0'),
        base.replace(b'"scope":"access"', b'"scope":"ztunnel::state"'),
        base.replace(b'"scope":"access"', b'"start_time":null,"scope":"access"'),
        envoy.replace(b'"duration":1404', b'"duration":1404.5'),
        envoy.replace(b'"method":"GET"', b'"method":1e3'),
        envoy.replace(b'"method":"GET"', b'"method":true'),
        envoy.replace(b'"method":"GET"', b'"method":{"a":1}'),
        envoy.replace(b'"bytes_sent":5293', b'"bytes_sent":-1'),
        envoy.replace(b'"bytes_sent":5293', b'"bytes_sent":99999999999999999999'),
        envoy.replace(b'"response_flags":"-"', b'"response_flags":"UpstreamOverflow,RL"'),
        envoy.replace(
            b'"start_time":"2025-07-18T03:33:18.702Z"',
            b'"start_time":"2025-07-18T05:33:18.702+02:00"',
        ),
    ]
    data = b"\n".join(variants) + b"\n"
    chunk = StreamDecoder("edge.log").feed(data)
    batch = frame_records(chunk.records)
    single = [parse_line(line, file="edge.log", lineno=n) for n, line in enumerate(variants, 1)]
    assert batch == [r for r in single if isinstance(r, Record)]
    assert [(r.lineno, r.reason) for r in chunk.rejections] == [
        (r.lineno, r.reason) for r in single if not isinstance(r, Record) and hasattr(r, "detail")
    ]


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "-",
            "200",
            "UO",
            "UF,URX",
            "RateLimited",
            "x y",
            "2025-07-18T03:33:18.702Z",
            "access",
            "info",
            "12ms",
            "connection complete",
            "http status: 401 Unauthorized",
        ]
    ),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
)
_JSON_KEYS = st.sampled_from(
    [
        "start_time",
        "response_code",
        "response_flags",
        "duration",
        "bytes_sent",
        "method",
        "x-request-id",
        "request_id",
        "route_name",
        "upstream_cluster",
        "response_code_details",
        "level",
        "time",
        "timestamp",
        "scope",
        "target",
        "message",
        "src.addr",
        "bytes_recv",
        "error",
        "direction",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2]), st.dictionaries(_JSON_KEYS, _JSON_VALUES, max_size=4)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_random_json_objects_agree_between_paths(
    overrides: list[tuple[int, dict[str, object]]],
) -> None:
    import orjson

    bases: list[dict[str, object]] = [
        orjson.loads((FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()[12]),
        orjson.loads((FIXTURES / "ztunnel.log").read_bytes().splitlines()[29]),
        {},
    ]
    objects = [{**bases[base], **changes} for base, changes in overrides]
    lines = []
    for obj in objects:
        try:
            lines.append(orjson.dumps(obj))
        except TypeError:  # integers beyond 64 bits: orjson refuses to write them
            lines.append(orjson.dumps({k: str(v) for k, v in obj.items()}))
    chunk = StreamDecoder("random.log").feed(b"\n".join(lines) + b"\n")
    batch = frame_records(chunk.records)
    single = [parse_line(line, file="random.log", lineno=n) for n, line in enumerate(lines, 1)]
    assert batch == [r for r in single if isinstance(r, Record)]
    assert len(batch) + chunk.ignored + len(chunk.rejections) == len(lines)


_ZT_KEYS = [
    "src.addr",
    "src.workload",
    "src.identity",
    "dst.addr",
    "dst.hbone_addr",
    "dst.service",
    "direction",
    "bytes_sent",
    "bytes_recv",
    "duration",
    "error",
    "extra",
]
_ZT_VALUES = st.one_of(
    st.sampled_from(["10.0.0.1:80", "12", "7ms", "outbound", "a=b", "", "x y"]),
    st.text(alphabet='ab "\\=\t.:', max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(_ZT_KEYS), _ZT_VALUES, st.booleans()), max_size=8),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["info", "error", "INFO", "warn"]),
)
def test_random_ztunnel_text_lines_agree_between_paths(
    lines_fields: list[list[tuple[str, str, bool]]], level: str
) -> None:
    lines = []
    for fields in lines_fields:
        kv = " ".join(
            f'{key}="{value}"' if quoted else f"{key}={value}" for key, value, quoted in fields
        )
        lines.append(
            f"2025-07-18T03:33:20.718599Z\t{level}\taccess\tconnection complete\t{kv}".encode()
        )
    chunk = StreamDecoder("zt.log").feed(b"\n".join(lines) + b"\n")
    batch = frame_records(chunk.records)
    single = [parse_line(line, file="zt.log", lineno=n) for n, line in enumerate(lines, 1)]
    assert batch == [r for r in single if isinstance(r, Record)]
    assert [r.reason for r in chunk.rejections] == [
        r.reason for r in single if not isinstance(r, Record) and hasattr(r, "detail")
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["stdout", "stderr"]), st.integers(1, 4)), min_size=1, max_size=10
    ),
    st.randoms(use_true_random=False),
    st.lists(st.integers(min_value=0, max_value=40), max_size=5),
)
def test_partial_sequences_reassemble_under_any_interleaving_and_chunking(
    plan: list[tuple[str, int]], rng: random.Random, cuts: list[int]
) -> None:
    payloads = (FIXTURES / "envoy-gateway.jsonl").read_bytes().splitlines()
    # Each logical line is split into n fragments; streams interleave, each stream in order.
    queues: dict[str, list[list[bytes]]] = {"stdout": [], "stderr": []}
    expected: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    for number, (stream, pieces) in enumerate(plan):
        payload = payloads[number % len(payloads)]
        bounds = sorted(rng.sample(range(1, len(payload)), pieces - 1))
        fragments = [
            payload[a:b] for a, b in zip([0, *bounds], [*bounds, len(payload)], strict=True)
        ]
        queues[stream].append(fragments)
        expected[stream].append(payload)
    lines: list[tuple[str, bytes]] = []
    cursors = {
        s: [
            f
            for record in queues[s]
            for f in [(i == len(record) - 1, part) for i, part in enumerate(record)]
        ]
        for s in queues
    }
    while cursors["stdout"] or cursors["stderr"]:
        stream = rng.choice([s for s in cursors if cursors[s]])
        last, part = cursors[stream].pop(0)
        tag = b"F" if last else b"P"
        lines.append(
            (
                stream,
                b"2025-07-18T03:33:20.1Z " + stream.encode() + b" " + tag + b" " + part + b"\n",
            )
        )
    raw = [line for _, line in lines]
    decoder = StreamDecoder(None)
    bounds = sorted({min(c, len(raw)) for c in cuts} | {0, len(raw)})
    records = []
    for start, end in itertools.pairwise(bounds):
        records += frame_records(decoder.feed(b"".join(raw[start:end])).records)
    assert decoder.finish().rejections == () and decoder.pending_bytes == 0
    by_id = {r.request_id for r in records}
    wanted = {
        parse_line(p).request_id  # type: ignore[union-attr]
        for s in expected
        for p in expected[s]
    }
    assert by_id == wanted and len(records) == len(plan)
