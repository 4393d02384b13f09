"""Benchmark: hop correlation on a generated ambient-mesh scenario with known ground truth.

Prints what correlation adds to replay time, exact-join accuracy, approximate-join
precision/recall, correlation records/s and peak correlation state.

Replay time is ``logwatch replay`` of the scenario's files as the CLI runs it (the
``replay`` function, JSON report, no ``--paths``), with correlation on and off, alternating,
``--runs`` (5) times each, in this process; the medians are compared. Accuracy, records/s and
state come from one more pass of the Correlator alone over the parsed records, fed in
``--batch-rows`` batches with watermarks as the pipeline feeds it.

Peak state is ``Correlator.state_size()`` sampled after every batch: polars'
``estimated_size`` of the pending-hop and connection frames and of the output buffers, plus
a ``sys.getsizeof`` walk of the pod IP directory (tracemalloc cannot see polars' Rust heap).
That sampling is the benchmark's own, so its time is left out of records/s.

    .venv/bin/python bench/correlate.py --lines 1000000
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logwatch.config import Config
from logwatch.correlate import CorrelationConfig, Correlator
from logwatch.pipeline.replay import replay
from parsers import StreamDecoder
from tests.correlate.scenario import Line, Scenario, generate

# Generated lines per ingress request (Envoy hops plus amortized ztunnel lines).
LINES_PER_REQUEST = 2.85
CHUNK_BYTES = 4 << 20


def write_files(scenario: Scenario, root: Path) -> Path:
    """The scenario's log files under ``root`` (their /var/log/pods paths kept)."""
    for file, lines in scenario.files.items():
        path = root / file.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return root


def time_replays(root: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds of replays of ``root`` without and with correlation, alternating."""
    configs = {
        False: Config(correlation=CorrelationConfig(enabled=False)),
        True: Config(correlation=CorrelationConfig()),
    }
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(runs):
        for correlate in (False, True):
            start = time.perf_counter()
            replay([str(root)], config=configs[correlate])
            seconds[correlate].append(time.perf_counter() - start)
    return seconds[False], seconds[True]


def parse(scenario: Scenario) -> pl.DataFrame:
    """All files parsed in 4 MiB chunks, merged by event time."""
    frames = []
    for file, lines in scenario.files.items():
        decoder = StreamDecoder(file=file)
        data = ("\n".join(lines) + "\n").encode()
        cut = 0
        while cut < len(data):
            end = data.rfind(b"\n", cut, cut + CHUNK_BYTES) + 1 or len(data)
            frames.append(decoder.feed(data[cut:end]).records)
            cut = end
    return pl.concat(frames).sort("ts", maintain_order=True)


@dataclass
class RunResult:
    correlation_s: float
    peak_entries: int
    peak_bytes: int
    peak_output_bytes: int
    hops: pl.DataFrame
    legs: pl.DataFrame


def run(records: pl.DataFrame, batch_rows: int, correlator: Correlator) -> RunResult:
    """Feed the correlator batch by batch with watermarks; keep every path it finalizes."""
    corr_seconds = 0.0
    peak_entries = peak_bytes = peak_output = 0
    hops: list[pl.DataFrame] = []
    legs: list[pl.DataFrame] = []
    for batch in records.iter_slices(batch_rows):
        watermark = batch["ts"].max()
        assert isinstance(watermark, datetime)
        t0 = time.perf_counter()
        correlator.on_records(batch)
        correlator.on_watermark(watermark)
        done_hops, done_legs = correlator.drain_path_frames()
        corr_seconds += time.perf_counter() - t0
        correlator.drain_hop_metrics()  # what a metrics stage would do
        # the benchmark's own sampling: a replay does not do it, so it is not timed
        size = correlator.state_size()
        peak_entries = max(peak_entries, size.entries)
        peak_bytes = max(peak_bytes, size.join_bytes)
        peak_output = max(peak_output, size.output_bytes)
        hops.append(done_hops)
        legs.append(done_legs)
    t0 = time.perf_counter()
    correlator.finalize_all()
    done_hops, done_legs = correlator.drain_path_frames()
    corr_seconds += time.perf_counter() - t0
    hops.append(done_hops)
    legs.append(done_legs)
    return RunResult(
        corr_seconds,
        peak_entries,
        peak_bytes,
        peak_output,
        pl.concat([h for h in hops if h.height]) if any(h.height for h in hops) else pl.DataFrame(),
        pl.concat([x for x in legs if x.height]) if any(x.height for x in legs) else pl.DataFrame(),
    )


def _truth_frame(pairs: dict[Line, Line]) -> pl.DataFrame:
    return pl.DataFrame(
        [(a[0], a[1], b[0], b[1]) for a, b in pairs.items()],
        schema={
            "hop_file": pl.String,
            "hop_lineno": pl.Int64,
            "leg_file": pl.String,
            "leg_lineno": pl.Int64,
        },
        orient="row",
    )


def score(
    hops: pl.DataFrame, legs: pl.DataFrame, scenario: Scenario
) -> dict[str, tuple[int, int, int]]:
    """(truth, predicted, correct) per join kind, from the columnar outputs."""
    found = legs.join(
        hops.select(
            pl.col("id").alias("hop_id"),
            pl.col("file").alias("hop_file"),
            pl.col("lineno").alias("hop_lineno"),
        ),
        on="hop_id",
    ).select(
        "join",
        "hop_file",
        "hop_lineno",
        pl.col("file").alias("leg_file"),
        pl.col("lineno").alias("leg_lineno"),
    )
    truth = scenario.truth
    out: dict[str, tuple[int, int, int]] = {}
    for kind, expected in (
        ("l4_exact", truth.exact),
        ("waypoint_downstream", truth.downstream),
        ("waypoint_inbound", truth.inbound),
    ):
        predicted = found.filter(pl.col("join") == kind).drop("join").unique()
        correct = predicted.join(_truth_frame(expected), on=predicted.columns, how="inner")
        out[kind] = (len(expected), predicted.height, correct.height)
    # outbound -> inbound pairs, as legs of exactly joined hops (the pairs that matter)
    pair_legs = found.filter(pl.col("join").is_in(["l4_exact", "ztunnel_pair"]))
    outbound = pair_legs.filter(pl.col("join") == "l4_exact").drop("join")
    inbound = pair_legs.filter(pl.col("join") == "ztunnel_pair").drop("join")
    predicted_pairs = (
        outbound.join(inbound, on=["hop_file", "hop_lineno"], suffix="_in")
        .select(
            pl.col("leg_file").alias("hop_file"),
            pl.col("leg_lineno").alias("hop_lineno"),
            pl.col("leg_file_in").alias("leg_file"),
            pl.col("leg_lineno_in").alias("leg_lineno"),
        )
        .unique()
    )
    expected_pairs = _truth_frame(truth.pairs).join(
        outbound.select(
            pl.col("leg_file").alias("hop_file"), pl.col("leg_lineno").alias("hop_lineno")
        ).unique(),
        on=["hop_file", "hop_lineno"],
    )
    correct = predicted_pairs.join(expected_pairs, on=predicted_pairs.columns, how="inner")
    out["ztunnel_pair"] = (expected_pairs.height, predicted_pairs.height, correct.height)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="replays with and without, each")
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, help="pickle the generated scenario here / reuse it")
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.cache is not None and args.cache.exists():
        scenario = pickle.loads(args.cache.read_bytes())
    else:
        scenario = generate(int(args.lines / LINES_PER_REQUEST), seed=args.seed, rate_per_s=400.0)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(scenario))
    print(
        f"scenario: {scenario.lines} lines in {len(scenario.files)} files, "
        f"generated in {time.perf_counter() - t0:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="logwatch-bench-") as tmp:
        without, with_corr = time_replays(write_files(scenario, Path(tmp)), args.runs)
    baseline, correlated = statistics.median(without), statistics.median(with_corr)
    print(f"replay without correlation: {baseline:.2f} s median of {_runs(without)}")
    print(f"replay with correlation:    {correlated:.2f} s median of {_runs(with_corr)}")
    print(f"correlation adds: {100 * (correlated / baseline - 1):.1f} % (target <= 30 %)")

    records = parse(scenario)
    correlator = Correlator(CorrelationConfig())
    result = run(records, args.batch_rows, correlator)
    hops, legs = result.hops, result.legs
    print(
        f"Correlator alone, {args.batch_rows:,}-row batches: {result.correlation_s:.2f} s = "
        f"{records.height / result.correlation_s:,.0f} records/s"
    )
    print(
        f"peak join state: {result.peak_entries:,} entries, "
        f"{result.peak_bytes / 2**20:.1f} MB (polars estimated_size + getsizeof walk; "
        f"target < 100 MB); peak output buffers {result.peak_output_bytes / 2**20:.1f} MB"
    )
    for kind, (truth, predicted, correct) in score(hops, legs, scenario).items():
        precision = correct / predicted if predicted else 1.0
        recall = correct / truth if truth else 1.0
        label = "exact" if kind == "l4_exact" else "approximate"
        print(
            f"{label} {kind}: truth {truth}, joined {predicted}, correct {correct}: "
            f"precision {100 * precision:.3f} %, recall {100 * recall:.3f} %"
        )
    summary = correlator.summary()
    print(
        f"hops summary: requests {summary['requests']}, multi_hop {summary['multi_hop']}, "
        f"l4_joined {summary['l4_joined']}, evictions {summary['evictions']}"
    )
    sample = hops.head(20_000)
    t0 = time.perf_counter()
    from logwatch.correlate.assemble import build_paths

    built = build_paths(sample, legs.filter(pl.col("hop_id").is_in(sample["id"].implode())))
    spent = time.perf_counter() - t0
    print(
        f"path objects (--paths output): {len(built) / spent:,.0f} paths/s "
        f"({sample.height} hops in {spent:.2f} s)"
    )


def _runs(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)


if __name__ == "__main__":
    main()
