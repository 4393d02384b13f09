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

3. End to end: `logwatch run` tails a file written at --rate lines/s (default 10,000); a
   burst of 20 RL lines on a fresh route is written every 3 s; measured from the write to
   the generic webhook's request arriving at a loopback receiver. Target: p99 <= 2 s.

Usage: python bench/alert_latency.py [--lines 200000] [--bursts 200] [--repeat 3]
                                     [--e2e-bursts 20] [--rate 10000]
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
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
from tests.scenario import eg_json_line, write_eg_jsonl

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


def timed_pipeline(
    chunks: list[bytes], file: str, with_pack: bool, state: Path, full: bool = False
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) to parse and run ``chunks``. ``full``: the
    daemon's stage set (``logwatch.pipeline.build``: correlation on) around the alert stage;
    otherwise the alert stage alone on the bare pipeline (parse + counting)."""
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    outbox = Outbox(state / f"outbox-{time.monotonic_ns()}.sqlite3") if with_pack else None
    stages: list[Any] = []
    if full:
        from logwatch.config import Config
        from logwatch.pipeline.build import build_stages

        stages.extend(build_stages(Config(), clock=clock, outbox=outbox, alerts=with_pack).all)
    elif with_pack:
        stages.append(AlertStage(AlertsConfig(), builtin_pack(), clock=clock, outbox=outbox))
    pipeline = Pipeline(stages, clock=clock)
    decoder = StreamDecoder(file)
    started, cpu_started = time.perf_counter(), time.process_time()
    for chunk in chunks:
        pipeline.process(decoder.feed(chunk))
    pipeline.process(decoder.finish())
    pipeline.finish()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if outbox is not None:
        outbox.close()
    return elapsed, cpu


def compare(
    label: str, lines: int, off: list[tuple[float, float]], on: list[tuple[float, float]]
) -> None:
    best_off, best_on = min(w for w, _ in off), min(w for w, _ in on)
    cpu_off, cpu_on = min(c for _, c in off), min(c for _, c in on)
    print(
        f"{label} without rules: {lines / best_off:,.0f} lines/s "
        f"({best_off:.3f} s wall, {cpu_off:.3f} s CPU)"
    )
    print(
        f"{label} with built-in pack: {lines / best_on:,.0f} lines/s "
        f"({best_on:.3f} s wall, {cpu_on:.3f} s CPU)"
    )
    print(
        f"{label}: rule pack cost {(1 - best_off / best_on) * 100:.1f} % of throughput "
        f"(target <= 10 %); ratio on/off = {best_off / best_on:.3f}; "
        f"in CPU time: {(1 - cpu_off / cpu_on) * 100:.1f} %"
    )


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


class _Webhook(BaseHTTPRequestHandler):
    """Loopback receiver of the generic webhook notifier: notes when each route arrives."""

    arrivals: ClassVar[dict[str, float]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.perf_counter()
        for alert in orjson.loads(body).get("alerts", []):
            route = alert.get("labels", {}).get("route_name", "")
            if alert.get("status") == "firing":
                self.arrivals.setdefault(route, now)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


def end_to_end(bursts: int, rate: int, state: Path) -> list[float] | str:
    """`logwatch run` tailing a file written at ``rate`` lines/s; ``bursts`` bursts of 20 RL
    lines on fresh routes; seconds from each burst's write to its webhook request. Returns
    a message instead when the daemon delivers nothing (not wired yet)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log_file = state / "access.log"
    log_file.touch()
    config = state / "logwatch.yaml"
    config.write_text(
        "daemon: {health_listen: '127.0.0.1:0'}\n"
        "alerts: {receiver: hook, group_wait: 0s, group_by: [alertname, route_name]}\n"
        "notifiers:\n  receivers:\n"
        f"    - {{name: hook, type: webhook, url: 'http://127.0.0.1:{server.server_port}/'}}\n"
    )
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from logwatch.cli.main import main; main()",
            "run",
            "--config",
            str(config),
            "--state-dir",
            str(state / "st"),
            "--source",
            str(log_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rng = random.Random(5)
    written: dict[str, float] = {}
    try:
        time.sleep(2.0)  # daemon start-up
        with log_file.open("ab", buffering=0) as out:
            tick, per_tick = 0.01, max(1, rate // 100)
            next_burst, started = 1.0, time.perf_counter()
            while len(written) < bursts:
                now_dt = datetime.now(UTC)
                lines = [
                    eg_json_line(rng, now_dt, "httproute/bench/ok", "c", "ok", 3)
                    for _ in range(per_tick)
                ]
                elapsed = time.perf_counter() - started
                if elapsed >= next_burst:
                    route = f"httproute/bench/burst-{len(written)}"
                    lines += [
                        eg_json_line(rng, now_dt, route, "c", "rl_local", 1) for _ in range(20)
                    ]
                    out.write(b"\n".join(lines) + b"\n")
                    written[route] = time.perf_counter()
                    next_burst += 3.0
                else:
                    out.write(b"\n".join(lines) + b"\n")
                time.sleep(max(0.0, started + (elapsed // tick + 1) * tick - time.perf_counter()))
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline and len(_Webhook.arrivals) < len(written):
                now_dt = datetime.now(UTC)
                out.write(eg_json_line(rng, now_dt, "httproute/bench/ok", "c", "ok", 3) + b"\n")
                time.sleep(0.01)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        server.shutdown()
        server.server_close()
    got = [_Webhook.arrivals[r] - t for r, t in written.items() if r in _Webhook.arrivals]
    if not got:
        return f"no webhook request for any of {len(written)} bursts within 30 s"
    if len(got) < len(written):
        return f"only {len(got)} of {len(written)} bursts notified; p50 of those {percentile(got, 50):.2f} s"
    return got


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--bursts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--e2e-bursts", type=int, default=20, help="0 skips the daemon run")
    parser.add_argument("--rate", type=int, default=10_000, help="lines/s written (e2e)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        path = state / "eg.jsonl"
        write_eg_jsonl(path, lines=args.lines)
        chunks = whole_line_chunks(path.read_bytes())
        print(f"lines={args.lines} rules={len(builtin_pack())} repeat={args.repeat}")
        timed_pipeline(chunks, str(path), True, state)  # warm-up (imports, polars caches)
        for full in (False, True):
            off: list[tuple[float, float]] = []
            on: list[tuple[float, float]] = []
            for _ in range(args.repeat):
                off.append(timed_pipeline(chunks, str(path), False, state, full))
                on.append(timed_pipeline(chunks, str(path), True, state, full))
            label = "daemon stages (correlation on)" if full else "bare pipeline (parse + count)"
            compare(label, args.lines, off, on)
        latencies = decision_latency(args.bursts, state)
        print(
            f"RL burst -> notification durable in outbox (in process, {args.bursts} bursts of 50): "
            f"p50={percentile(latencies, 50) * 1000:.1f} ms p99={percentile(latencies, 99) * 1000:.1f} ms "
            f"max={max(latencies) * 1000:.1f} ms (target p99 <= 2000 ms end to end)"
        )
        if args.e2e_bursts:
            result = end_to_end(args.e2e_bursts, args.rate, state)
            if isinstance(result, str):
                print(f"end to end (logwatch run -> webhook, {args.rate} lines/s): {result}")
            else:
                print(
                    f"end to end (logwatch run tailing at {args.rate} lines/s -> webhook, "
                    f"{len(result)} bursts): p50={percentile(result, 50):.3f} s "
                    f"p99={percentile(result, 99):.3f} s max={max(result):.3f} s (target p99 <= 2 s)"
                )


if __name__ == "__main__":
    main()
