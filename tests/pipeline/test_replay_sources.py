"""Replay sources: discovery, rotation order, CRI across rotation, gzip, stdin, merge, limits."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from logwatch.sources.files import ReplayStream, StreamReader, discover_streams
from logwatch.sources.merge import merge_by_event_time
from logwatch.sources.rotation import rotation_sets
from parsers import ParseOptions
from tests.scenario import START, eg_json_line, write_eg_jsonl

LOGWATCH = str(Path(sys.executable).with_name("logwatch"))
POD_DIR = "pods/default_envoy-eg-5f7d8c9b6-abcde_0f3c9a2e-5b1d-4c7e-9a8f-2d6e4b1c7a90/envoy"


def cri(ts: datetime, tag: str, content: bytes) -> bytes:
    return (
        ts.strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()
        + b" stdout "
        + tag.encode()
        + b" "
        + content
        + b"\n"
    )


def eg(
    seconds: float, route: str = "httproute/default/r/rule/0/match/0/*"
) -> tuple[datetime, bytes]:
    ts = START + timedelta(milliseconds=int(seconds * 1000))
    return ts, eg_json_line(
        random.Random(int(seconds * 1000)), ts, route, "httproute/default/r/rule/0", "ok", 3
    )


def read_all(stream: ReplayStream, **kwargs: object) -> tuple[pl.DataFrame, int, list[str]]:
    reader = StreamReader(stream, **kwargs)  # type: ignore[arg-type]
    frames, lines, reasons = [], 0, []
    while (chunk := reader.read()) is not None:
        frames.append(chunk.records)
        lines += chunk.lines
        reasons += [r.reason for r in chunk.rejections]
    reader.close()
    reader.close()  # idempotent
    return pl.concat(frames), lines, reasons


def test_rotation_sets_order_kubelet_and_logrotate_files() -> None:
    d = Path("/var/log/pods/ns_pod_uid/c")
    files = [
        d / "0.log",
        d / "0.log.20250718-033320",
        d / "0.log.20250718-031000.gz",
        d / "0.log.20250718-031000",  # leftover of an interrupted compression: .gz wins
        d / "0.log.20250718-032000.gz",
        d / "0.log.20250718-034000.tmp",  # compression in progress: never read
        d / "1.log",
        Path("/x/app.log.2.gz"),
        Path("/x/app.log"),
        Path("/x/app.log.1"),
    ]
    sets = {s.name: [p.name for p in s.parts] for s in rotation_sets(files)}
    assert sets == {
        str(d / "0.log"): [
            "0.log.20250718-031000.gz",
            "0.log.20250718-032000.gz",
            "0.log.20250718-033320",
            "0.log",
        ],
        str(d / "1.log"): ["1.log"],
        "/x/app.log": ["app.log.2.gz", "app.log.1", "app.log"],
    }


def test_directory_walk_reads_each_physical_file_once_by_its_resolved_path(tmp_path: Path) -> None:
    live = tmp_path / POD_DIR / "0.log"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"")
    (live.parent / "0.log.20250718-031000.gz").write_bytes(gzip.compress(b""))
    containers = tmp_path / "containers"
    containers.mkdir()
    (containers / f"envoy-eg-5f7d8c9b6-abcde_default_envoy-{'c' * 64}.log").symlink_to(live)
    (containers / "dangling.log").symlink_to(tmp_path / "gone.log")
    # the same tree given twice, through the symlink directory and directly
    streams = discover_streams([str(containers), str(tmp_path), str(live)])
    assert [(s.name, [Path(p).name for p in s.parts]) for s in streams] == [
        (str(live), ["0.log.20250718-031000.gz", "0.log"])
    ]


def test_cri_record_straddling_a_rotation_is_reassembled(tmp_path: Path) -> None:
    live = tmp_path / POD_DIR / "0.log"
    live.parent.mkdir(parents=True)
    ts1, line1 = eg(1)
    ts2, line2 = eg(2)
    ts3, line3 = eg(3)
    old = live.parent / "0.log.20250718-030000"
    old.write_bytes(cri(ts1, "F", line1) + cri(ts2, "P", line2[:100]))
    live.write_bytes(cri(ts2, "F", line2[100:]) + cri(ts3, "F", line3))
    records, lines, reasons = read_all(discover_streams([str(tmp_path)])[0])
    assert reasons == []
    assert lines == 4
    assert records["ts"].to_list() == [ts1, ts2, ts3]
    assert records["request_id"].to_list() == [
        orjson.loads(x)["x-request-id"] for x in (line1, line2, line3)
    ]
    # the straddling record is placed at its first fragment; pod identity from the path
    assert records["file"].to_list() == [str(old), str(old), str(live)]
    assert records["lineno"].to_list() == [1, 2, 2]
    assert set(records["pod"]) == {"envoy-eg-5f7d8c9b6-abcde"}
    assert set(records["container"]) == {"envoy"}


def test_gzip_and_a_last_line_without_newline(tmp_path: Path) -> None:
    lines = [eg(i)[1] for i in range(50)]
    path = tmp_path / "access.log.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines)))  # no trailing newline
    records, count, reasons = read_all(ReplayStream(str(path), (str(path),)), chunk_bytes=4096)
    assert (records.height, count, reasons) == (50, 50, [])


def test_reads_in_bounded_chunks_and_rejects_an_overlong_line_without_buffering_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.log"
    good = [eg(i)[1] for i in range(400)]
    huge = b'{"start_time":"' + b"x" * (3 << 20) + b'"}'
    path.write_bytes(b"\n".join([*good[:200], huge, *good[200:]]) + b"\n")
    reader = StreamReader(
        ReplayStream(str(path), (str(path),)),
        options=ParseOptions(max_line_bytes=64 << 10),
        chunk_bytes=32 << 10,
    )
    heights, reasons, lines = [], [], 0
    while (chunk := reader.read()) is not None:
        heights.append(chunk.records.height)
        reasons += [r.reason for r in chunk.rejections]
        lines += chunk.lines
    reader.close()
    assert sum(heights) == 400 and lines == 401
    assert reasons == ["line-too-long"]
    assert max(heights) <= (32 << 10) // min(len(g) for g in good) + 1  # one chunk at a time


def test_merge_orders_records_of_all_streams_by_event_time(tmp_path: Path) -> None:
    rng = random.Random(3)
    streams = []
    for n in range(3):
        times = sorted(rng.uniform(0, 600) for _ in range(700))
        path = tmp_path / f"proxy{n}.log"
        path.write_bytes(b"".join(eg(t, f"route-{n}")[1] + b"\n" for t in times))
        streams.append(ReplayStream(str(path), (str(path),)))
    readers = [StreamReader(s, chunk_bytes=16 << 10) for s in streams]
    merged = list(merge_by_event_time(readers))
    for reader in readers:
        reader.close()
    ts = pl.concat([c.records for c in merged])["ts"]
    assert ts.len() == 2100 and sum(c.lines for c in merged) == 2100
    assert ts.is_sorted()
    assert len(merged) > 3  # emitted as it went, not all at the end


def test_stdin_replay_matches_truth(tmp_path: Path) -> None:
    path = tmp_path / "eg.jsonl"
    truth = write_eg_jsonl(path, lines=3000, minutes=5)
    done = subprocess.run(
        [LOGWATCH, "replay", "-", "-o", "json"],
        input=path.read_bytes(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    doc = orjson.loads(done.stdout)
    assert doc["input"] == {
        "files": 1,
        "lines": 3000,
        "records": 3000,
        "ignored": 0,
        "malformed": 0,
    }
    assert {r["route_name"]: r["requests"] for r in doc["routes"]} == {
        name: r.requests for name, r in truth.routes.items()
    }
    assert doc["response_flags"]["RL"] == truth.flags["RL"]


def test_merge_of_two_files_feeds_event_time_to_the_pipeline(tmp_path: Path) -> None:
    early, late = tmp_path / "a.log", tmp_path / "b.log"
    early.write_bytes(b"".join(eg(t)[1] + b"\n" for t in range(0, 600, 2)))
    late.write_bytes(b"".join(eg(t)[1] + b"\n" for t in range(1, 600, 2)))
    readers = [StreamReader(s, chunk_bytes=4096) for s in discover_streams([str(early), str(late)])]
    seen: list[datetime] = []
    for chunk in merge_by_event_time(readers):
        seen += chunk.records["ts"].to_list()
    assert seen == [START + timedelta(seconds=s) for s in range(600)]
    assert all(t.tzinfo is not None and t.utcoffset() == UTC.utcoffset(None) for t in seen[:1])


def test_directory_symlink_cycles_are_walked_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.log").write_bytes(eg(1)[1] + b"\n")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)  # a -> loop -> tmp_path -> a ...
    streams = discover_streams([str(tmp_path)])
    assert [s.parts for s in streams] == [(str(tmp_path / "a" / "x.log"),)]
