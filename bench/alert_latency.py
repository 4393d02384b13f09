"""Alert benchmark: what the built-in rule pack costs, and how fast an RL burst is decided.

1. Throughput: the same Envoy Gateway JSON lines (tests/scenario.py) parsed and run through
   the pipeline with no stages (baseline) and with the alert stage running the built-in pack
   (outbox: the real SQLite outbox), in one process, alternating runs, best of --repeat.
   Target: the pack costs <= 10 % of throughput.
2. Decision latency (wall time, in process): a burst of RL records is handed to the live
   alert stage (WallClock, group_wait 0) while the watermark follows the wall clock (20 ms
   ticks); measured from the batch hand-off to the notification being durable in the
   outbox (includes waiting for the rule's 1 s bucket to close). Target: p99 <= 2 s for the
   whole write -> webhook path, of which this is the alert part.

Usage: python bench/alert_latency.py [--lines 200000] [--bursts 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock, WallClock
from logwatch.notify.outbox import Outbox
from logwatch.pipeline.pipeline import Pipeline
from parsers import StreamDecoder
from parsers.record import RECORD_SCHEMA
from rules.builtin import builtin_pack
from tests.scenario import write_eg_jsonl

CHUNK = 4 << 20


def whole_line_chunks(data: bytes) -> list[bytes]:
    out, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + CHUNK) + 1
        if end <= start:
            end = len(data)
        out.append(data[start:end])
        start = end
    return out


def timed_pipeline(chunks: list[bytes], file: str, with_pack: bool, state: Path) -> float:
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    outbox = Outbox(state / f"outbox-{time.monotonic_ns()}.sqlite3") if with_pack else None
    stages = []
    if with_pack:
        stages.append(AlertStage(AlertsConfig(), builtin_pack(), clock=clock, outbox=outbox))
    pipeline = Pipeline(stages, clock=clock)
    decoder = StreamDecoder(file)
    started = time.perf_counter()
    for chunk in chunks:
        pipeline.process(decoder.feed(chunk))
    pipeline.process(decoder.finish())
    pipeline.finish()
    elapsed = time.perf_counter() - started
    if outbox is not None:
        outbox.close()
    return elapsed


def rl_burst(now: datetime, size: int, route: str) -> pl.DataFrame:
    row = {k: None for k in RECORD_SCHEMA}
    rows = [
        {
            **row,
            "kind": "envoy",
            "signals": ["rate_limited"],
            "response_flags": ["RL"],
            "route_name": route,
            "response_code": 429,
            "response_code_details": "local_rate_limited",
            "ts": now - timedelta(milliseconds=size - i),
        }
        for i in range(size)
    ]
    return pl.DataFrame(rows, schema=RECORD_SCHEMA)


def decision_latency(bursts: int, state: Path) -> list[float]:
    """Wall seconds from handing a burst to the stage until its notification is durable,
    with the watermark following the wall clock every 20 ms (an idle daemon's ticks, no
    allowed lateness): includes waiting for the 1 s bucket to close."""
    config = AlertsConfig(group_wait=timedelta(0), group_by=("alertname", "route_name"))
    outbox = Outbox(state / "latency.sqlite3")
    stage = AlertStage(config, builtin_pack(), clock=WallClock(), outbox=outbox)
    latencies = []
    try:
        for i in range(bursts):
            burst = rl_burst(datetime.now(UTC), 50, f"httproute/bench/route-{i}")
            before = outbox.counts().pending
            started = time.perf_counter()
            stage.on_records(burst)
            while True:
                stage.on_watermark(datetime.now(UTC))
                if outbox.counts().pending > before:
                    break
                if time.perf_counter() - started > 10:
                    raise RuntimeError("burst produced no notification within 10 s")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - started)
    finally:
        outbox.close()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--bursts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        path = state / "eg.jsonl"
        write_eg_jsonl(path, lines=args.lines)
        chunks = whole_line_chunks(path.read_bytes())
        off, on = [], []
        timed_pipeline(chunks, str(path), True, state)  # warm-up (imports, polars caches)
        for _ in range(args.repeat):
            off.append(timed_pipeline(chunks, str(path), False, state))
            on.append(timed_pipeline(chunks, str(path), True, state))
        best_off, best_on = min(off), min(on)
        print(f"lines={args.lines} rules={len(builtin_pack())} repeat={args.repeat}")
        print(f"pipeline without rules: {args.lines / best_off:,.0f} lines/s ({best_off:.3f} s)")
        print(f"pipeline with built-in pack: {args.lines / best_on:,.0f} lines/s ({best_on:.3f} s)")
        cost = 1 - best_off / best_on
        print(
            f"rule pack cost: {cost * 100:.1f} % of throughput (target <= 10 %); ratio on/off = {best_off / best_on:.3f}"
        )
        latencies = decision_latency(args.bursts, state)
        print(
            f"RL burst -> notification durable in outbox (in process, {args.bursts} bursts of 50): "
            f"p50={percentile(latencies, 50) * 1000:.1f} ms p99={percentile(latencies, 99) * 1000:.1f} ms "
            f"max={max(latencies) * 1000:.1f} ms (target p99 <= 2000 ms end to end)"
        )


if __name__ == "__main__":
    main()
