"""Benchmark: `logwatch replay FILE --output json` against DuckDB on the same Envoy Gateway log.

Both run as fresh processes, several times each, on one file of ``--lines`` EG JSON lines
(generated once by tests/scenario.py and reused). Prints the median wall time of each, the
ratio logwatch / DuckDB (target <= 1.0) and the peak RSS of each child (from wait4). For
context it also times the parse alone (the decoder over the whole file in one process), the
floor for any replay.

    .venv/bin/python bench/replay.py                 # 1,000,000 lines, 5 runs each
    .venv/bin/python bench/replay.py --lines 50000 --runs 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent

DUCKDB_QUERY = (
    'import duckdb; duckdb.sql("SELECT route_name, response_flags, count(*) '
    "FROM read_json_auto('{path}') GROUP BY ALL\").fetchall()"
)
PARSE_ONLY = """
import sys
from parsers import StreamDecoder
decoder = StreamDecoder(sys.argv[1])
with open(sys.argv[1], "rb") as f:
    while data := f.read(8 << 20):
        data += f.readline()
        decoder.feed(data)
decoder.finish()
"""


def ensure_file(path: Path, lines: int) -> Path:
    marker = path.with_suffix(".lines")
    if path.exists() and marker.exists() and marker.read_text() == str(lines):
        return path
    from tests.scenario import write_eg_jsonl

    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_eg_jsonl(path, lines=lines)
    marker.write_text(str(lines))
    size = path.stat().st_size / 1e6
    print(f"generated {lines:,} lines ({size:,.0f} MB) in {time.perf_counter() - started:.1f} s")
    return path


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one fresh child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.stderr is not None
    err = child.stderr.read()
    child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({child.returncode}): {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024


def measure(
    name: str, argv: list[str], runs: int, env: dict[str, str] | None = None
) -> tuple[float, int]:
    times, peaks = [], []
    for _ in range(runs):
        elapsed, peak = run(argv, env)
        times.append(elapsed)
        peaks.append(peak)
    median = statistics.median(times)
    runs_text = " ".join(f"{t:.2f}" for t in times)
    print(
        f"{name:<28} median {median:6.2f} s  runs [{runs_text}]  peak RSS {max(peaks) / 2**20:7.0f} MiB"
    )
    return median, max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--file", type=Path, default=None, help="reuse/generate this file")
    args = parser.parse_args()
    path = args.file or Path(f"/tmp/logwatch-bench/eg-{args.lines}.jsonl")
    ensure_file(path, args.lines)
    print(
        f"file {path} ({path.stat().st_size / 1e6:,.0f} MB, {args.lines:,} lines), {args.runs} runs each"
    )
    logwatch, logwatch_rss = measure(
        "logwatch replay -o json",
        [str(BIN / "logwatch"), "replay", str(path), "--output", "json"],
        args.runs,
    )
    # the same without the hop correlation stage, to show what each part costs
    no_hops, _ = measure(
        "  ... without correlation",
        [str(BIN / "logwatch"), "replay", str(path), "--output", "json"],
        args.runs,
        env={"LOGWATCH_CORRELATION__ENABLED": "false"},
    )
    duckdb, duckdb_rss = measure(
        "duckdb read_json_auto", [sys.executable, "-c", DUCKDB_QUERY.format(path=path)], args.runs
    )
    parse, _ = measure(
        "parse only (decoder)", [sys.executable, "-c", PARSE_ONLY, str(path)], args.runs
    )
    print(f"ratio logwatch / duckdb      {logwatch / duckdb:.2f}x (target <= 1.00x)")
    print(f"ratio without correlation    {no_hops / duckdb:.2f}x")
    print(f"correlation costs            {logwatch - no_hops:+.2f} s")
    print(
        f"replay beyond parse          {logwatch - parse:+.2f} s ({(logwatch - parse) / logwatch:.0%} of replay)"
    )
    print(
        f"peak RSS logwatch / duckdb   {logwatch_rss / 2**20:.0f} MiB / {duckdb_rss / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
