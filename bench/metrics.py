"""Benchmark: pipeline throughput (decode + stages) with the metrics stage on versus off.

Same input, same process: a node scenario from tests/scenario.py (Envoy Gateway JSON, Istio
waypoint text and ztunnel text, CRI-wrapped) is read into memory once; each run decodes every
file in 1 MiB feeds (as the tailer does) and drives the one record pipeline. "off" has no
stage; "on" has the MetricsStage of a full metrics runtime (Prometheus reader on a loopback
port, one collection at the end of the run, as a scrape would do). Runs alternate off/on;
the best run of each is reported, with the overhead of metrics in percent of throughput.

    .venv/bin/python bench/metrics.py                  # 400,000 lines, 5 runs each
    .venv/bin/python bench/metrics.py --lines 20000 --runs 2

Target: metrics cost <= 10 % of pipeline throughput.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from logwatch.clock import WallClock  # noqa: E402
from logwatch.daemon_stats import DaemonStats  # noqa: E402
from logwatch.metrics.config import MetricsConfig  # noqa: E402
from logwatch.metrics.runtime import MetricsRuntime, setup_metrics  # noqa: E402
from logwatch.pipeline.pipeline import Pipeline  # noqa: E402
from logwatch.pipeline.stages import RecordStage  # noqa: E402
from parsers import ParseOptions, StreamDecoder  # noqa: E402
from tests.scenario import write_node_scenario  # noqa: E402

FEED_BYTES = 1 << 20


def load_inputs(lines: int) -> list[tuple[str, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_node_scenario(
            root,
            envoy_requests=lines * 6 // 10,
            waypoint_requests=lines * 2 // 10,
            ztunnel_connections=lines * 2 // 10,
            minutes=60,
            rotations=0,
            gzip_rotated=False,
        )
        return [(str(p), p.read_bytes()) for p in sorted((root / "pods").rglob("*.log"))]


def feeds(data: bytes) -> list[bytes]:
    """1 MiB pieces cut after a newline, as a tailer hands them over."""
    pieces, start = [], 0
    while start < len(data):
        end = data.find(b"\n", min(start + FEED_BYTES, len(data)) - 1)
        end = len(data) if end == -1 else end + 1
        pieces.append(data[start:end])
        start = end
    return pieces


class TimedStage:
    """Wraps the metrics stage to measure the time spent inside it (a second, load-robust
    view of its cost next to the end-to-end comparison)."""

    def __init__(self, stage: RecordStage) -> None:
        self.stage = stage
        self.seconds = 0.0

    def on_records(self, records: pl.DataFrame) -> None:
        started = time.perf_counter()
        self.stage.on_records(records)
        self.seconds += time.perf_counter() - started

    def on_watermark(self, watermark: datetime) -> None:
        self.stage.on_watermark(watermark)

    def flush(self) -> None:
        self.stage.flush()


def run_once(
    inputs: list[tuple[str, list[bytes]]], runtime: MetricsRuntime | None
) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds of the process, seconds inside the metrics stage, lines)"""
    timed = TimedStage(runtime.stage) if runtime is not None else None
    pipeline = Pipeline([timed] if timed is not None else [], clock=WallClock())
    cpu_started = time.process_time()
    started = time.perf_counter()
    for path, pieces in inputs:
        decoder = StreamDecoder(file=path, options=ParseOptions())
        for piece in pieces:
            pipeline.process(decoder.feed(piece))
        pipeline.process(decoder.finish())
    pipeline.flush()
    if runtime is not None:
        runtime.export_now()  # one collection, as a scrape would trigger
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return wall, cpu, timed.seconds if timed is not None else 0.0, pipeline.stats.lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The scenario has a few malformed lines on purpose; their log lines are not the point.
    logging.disable(logging.WARNING)

    raw = load_inputs(args.lines)
    inputs = [(path, feeds(data)) for path, data in raw]
    total_bytes = sum(len(data) for _, data in raw)
    config = MetricsConfig.model_validate({"prometheus": {"listen": "127.0.0.1:0"}})
    best = {"off": float("inf"), "on": float("inf")}
    best_cpu = {"off": float("inf"), "on": float("inf")}
    stage_share = float("inf")
    lines = 0
    run_once(inputs, None)  # warm-up: imports, polars thread pool, caches
    for _ in range(args.runs):
        for mode in ("off", "on"):
            runtime = (
                setup_metrics(config, DaemonStats(), resource_env={}) if mode == "on" else None
            )
            try:
                elapsed, cpu, in_stage, lines = run_once(inputs, runtime)
            finally:
                if runtime is not None:
                    runtime.close()
            best[mode] = min(best[mode], elapsed)
            best_cpu[mode] = min(best_cpu[mode], cpu)
            if mode == "on":
                stage_share = min(stage_share, in_stage / elapsed)

    rate = {mode: lines / seconds for mode, seconds in best.items()}
    overhead = (1 - rate["on"] / rate["off"]) * 100
    print(
        f"input: {lines} lines, {total_bytes / 1e6:.1f} MB, {len(raw)} files; best of {args.runs} runs"
    )
    print(f"metrics off: {best['off']:.3f} s  {rate['off']:,.0f} lines/s")
    print(f"metrics on:  {best['on']:.3f} s  {rate['on']:,.0f} lines/s")
    print(
        f"on/off throughput ratio: {rate['on'] / rate['off']:.3f}  metrics overhead: {overhead:.1f} %  (target <= 10 %)"
    )
    cpu_overhead = (best_cpu["on"] / best_cpu["off"] - 1) * 100
    print(
        f"process CPU: off {best_cpu['off']:.3f} s, on {best_cpu['on']:.3f} s, overhead {cpu_overhead:.1f} %"
    )
    print(
        f"time inside the metrics stage: {stage_share * 100:.1f} % of the pipeline wall time (best run)"
    )


if __name__ == "__main__":
    main()
