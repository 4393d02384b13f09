"""Benchmark of `logwatch run`: sustained throughput with rotations, and latency at a steady rate.

Throughput: a writer appends ``--lines`` mixed lines (Envoy Gateway JSON and ztunnel text,
CRI-wrapped) as fast as it can to ``--files`` files, rotating each by rename every
``--rotate-mb`` MiB (keeping ``--keep`` rotated files, like kubelet); the daemon runs as a
subprocess. Figures: lines/s from the first write until the checkpoint covers every line, the
daemon's CPU (user+system, in cores) and peak RSS. Latency: a writer appends ``--rate`` lines/s
for ``--seconds``, each Envoy line carrying its write time in x-request-id; the daemon writes
records to ``--sink file:``, and a reader stamps each record when it appears there.

Where the time goes is shown by the same lines through: plain reads (baseline), the decoder
alone, and the decoder plus the pipeline stages the daemon builds, all in this process.

    python bench/tail.py                      # full size: 2,000,000 lines
    python bench/tail.py --lines 200000 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
ENTRY = "from logwatch.cli.main import main; main()"
TARGET_LINES_PER_S = 300_000
TARGET_P99_S = 1.0
TARGET_RSS_MB = 200
FIXTURE_ID = "2b8e6c1f-6f1e-4f43-9c39-0c1f2a7d9e51"


def envoy_template() -> str:
    return (FIXTURES / "envoy-gateway.jsonl").read_text().splitlines()[0]


def ztunnel_lines() -> list[str]:
    lines = (FIXTURES / "cri-ztunnel.log").read_text().splitlines()
    return [line for line in lines if "\taccess\t" in line]


def block(lines: int, serial: int) -> bytes:
    """``lines`` CRI lines, two Envoy JSON for one ztunnel, distinct request ids."""
    template = envoy_template()
    ztunnel = ztunnel_lines()
    out = []
    for n in range(lines):
        if n % 3 == 2:
            out.append(ztunnel[n % len(ztunnel)])
        else:
            rid = f"b{serial:06d}-{n:08d}"
            out.append(
                f"2025-07-18T03:33:20.116830544Z stdout F {template.replace(FIXTURE_ID, rid)}"
            )
    return ("\n".join(out) + "\n").encode()


class Daemon:
    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = workdir / "daemon.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, "run", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={
                **os.environ,
                "LOGWATCH_METRICS__PROMETHEUS__LISTEN": "127.0.0.1:0",
                **(env or {}),
            },
        )

    def logs(self) -> list[dict[str, object]]:
        out = []
        for line in self.log_path.read_bytes().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def wait_started(self) -> None:
        deadline = time.monotonic() + 60
        while not any(e.get("msg") == "daemon started" for e in self.logs()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"daemon did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            self._log.close()


def write_with_rotations(
    directory: Path, data: bytes, copies: int, files: int, rotate_bytes: int, keep: int
) -> dict[str, int]:
    """Append ``data`` ``copies`` times round-robin over the files; returns final live sizes."""
    handles = {f"f{i}": open(directory / f"f{i}.log", "ab") for i in range(files)}  # noqa: SIM115
    sizes = dict.fromkeys(handles, 0)
    generation = dict.fromkeys(handles, 0)
    for copy in range(copies):
        name = f"f{copy % files}"
        handles[name].write(data)
        handles[name].flush()
        sizes[name] += len(data)
        if sizes[name] >= rotate_bytes:
            handles[name].close()
            generation[name] += 1
            live = directory / f"{name}.log"
            os.rename(live, directory / f"{name}.log.{generation[name]}")
            old = directory / f"{name}.log.{generation[name] - keep}"
            if old.exists():
                old.unlink()
            handles[name] = open(live, "ab")  # noqa: SIM115
            sizes[name] = 0
    for handle in handles.values():
        handle.close()
    return {str(directory / f"{name}.log"): size for name, size in sizes.items()}


def checkpoint_covers(state: Path, final: dict[str, int]) -> bool:
    try:
        document = json.loads((state / "checkpoints.json").read_text())
    except (OSError, ValueError):
        return False
    positions = {p["key"]: p for p in document["files"]}
    return all(
        key in positions and positions[key]["path"] == key and positions[key]["offset"] == size
        for key, size in final.items()
    )


def throughput(args: argparse.Namespace, work: Path) -> dict[str, float]:
    logs = work / "logs"
    logs.mkdir()
    state = work / "state"
    data = block(args.block, 1)
    block_lines = data.count(b"\n")
    copies = max(1, args.lines // block_lines)
    daemon = Daemon(
        work,
        "--source",
        str(logs / "*.log"),
        "--state-dir",
        str(state),
        "--health-listen",
        "127.0.0.1:0",
        env={"LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "0.25"},
    )
    for index in range(args.files):
        (logs / f"f{index}.log").touch()
    daemon.wait_started()
    # rotations start once the daemon follows every file (a poller cannot know a file that
    # was created and rotated away between two looks)
    deadline = time.monotonic() + 30
    while sum(e.get("msg") == "following file" for e in daemon.logs()) < args.files:
        if time.monotonic() > deadline:
            raise SystemExit("daemon did not pick up the files")
        time.sleep(0.02)
    cpu0 = daemon.cpu_s()
    started = time.monotonic()
    final = write_with_rotations(logs, data, copies, args.files, args.rotate_mb << 20, args.keep)
    written = time.monotonic() - started
    while not checkpoint_covers(state, final):
        if time.monotonic() - started > args.limit_s:
            raise SystemExit("daemon did not catch up in time")
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    cpu = daemon.cpu_s() - cpu0
    rss = daemon.peak_rss_mb()
    status = daemon.stop()
    lost = sum(
        int(e.get("lost_bytes", 0) or 0) for e in daemon.logs() if "lost" in str(e.get("msg"))
    )
    lines = copies * block_lines
    return {
        "lines": lines,
        "bytes": copies * len(data),
        "write_s": written,
        "elapsed_s": elapsed,
        "lines_per_s": lines / elapsed,
        "cpu_cores": cpu / elapsed,
        "peak_rss_mb": rss,
        "lost_bytes": lost,
        "exit": status,
    }


def latency(args: argparse.Namespace, work: Path) -> dict[str, float]:
    logs = work / "lat-logs"
    logs.mkdir()
    sink = work / "sink.ndjson"
    daemon = Daemon(
        work,
        "--source",
        str(logs / "*.log"),
        "--state-dir",
        str(work / "lat-state"),
        "--sink",
        f"file:{sink}",
        "--health-listen",
        "127.0.0.1:0",
    )
    daemon.wait_started()
    template = envoy_template()
    ztunnel = ztunnel_lines()
    samples: list[float] = []
    done = threading.Event()

    def follow() -> None:
        offset = 0
        pattern = re.compile(rb'"request_id":"lat-(\d+)"')
        while not sink.exists():
            time.sleep(0.005)
        carry = b""
        with open(sink, "rb") as handle:
            while True:
                chunk = handle.read()
                now = time.time_ns()
                if chunk:
                    offset += len(chunk)
                    # only whole records: a read may end inside one
                    whole, _, carry = (carry + chunk).rpartition(b"\n")
                    samples.extend((now - int(m.group(1))) / 1e9 for m in pattern.finditer(whole))
                elif done.is_set():
                    return
                else:
                    time.sleep(0.005)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    handles = [open(logs / f"f{i}.log", "ab") for i in range(args.files)]  # noqa: SIM115
    tick = 0.01
    per_tick = max(1, int(args.rate * tick))
    expected = 0
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < args.seconds:
        due = start + n * tick
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        handle = handles[n % len(handles)]
        lines = []
        for k in range(per_tick):
            if k % 3 == 2:
                lines.append(ztunnel[k % len(ztunnel)])
            else:
                rid = f"lat-{time.time_ns()}"
                lines.append(
                    f"2025-07-18T03:33:20.116830544Z stdout F {template.replace(FIXTURE_ID, rid)}"
                )
                expected += 1
        handle.write(("\n".join(lines) + "\n").encode())
        handle.flush()
        n += 1
    for handle in handles:
        handle.close()
    deadline = time.monotonic() + 30
    while len(samples) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    reader.join(10)
    rss = daemon.peak_rss_mb()
    daemon.stop()
    ordered = sorted(samples)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    return {
        "rate": n * per_tick / args.seconds,
        "records": len(samples),
        "expected": expected,
        "p50_s": pct(0.50),
        "p99_s": pct(0.99),
        "max_s": ordered[-1] if ordered else float("nan"),
        "peak_rss_mb": rss,
    }


def where_time_goes(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """The same lines through plain reads, the decoder alone, and decoder + stages."""
    from logwatch.clock import WallClock
    from logwatch.config import load_config
    from logwatch.pipeline.build import build_stages
    from logwatch.pipeline.pipeline import Pipeline
    from parsers.stream import StreamDecoder

    data = block(args.block, 2)
    lines = data.count(b"\n")
    repeats = max(1, min(args.lines, 200_000) // lines)
    path = work / "plain.log"
    path.write_bytes(data * repeats)
    begin = time.perf_counter()
    with open(path, "rb", buffering=0) as handle:
        while handle.read(1 << 20):
            pass
    read_s = time.perf_counter() - begin

    decoder = StreamDecoder("/var/log/pods/default_envoy-x_uid/envoy/0.log")
    begin = time.perf_counter()
    for _ in range(repeats):
        decoder.feed(data)
    decode_s = time.perf_counter() - begin

    clock = WallClock()
    pipeline = Pipeline(list(build_stages(load_config(), clock=clock).all), clock=clock)
    decoder = StreamDecoder("/var/log/pods/default_envoy-x_uid/envoy/0.log")
    begin = time.perf_counter()
    for _ in range(repeats):
        pipeline.process(decoder.feed(data))
    pipeline.flush()
    full_s = time.perf_counter() - begin
    total = lines * repeats
    return {
        "read_lines_per_s": total / read_s,
        "decode_lines_per_s": total / decode_s,
        "decode_and_stages_lines_per_s": total / full_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--block", type=int, default=6000, help="lines per write call")
    parser.add_argument("--rotate-mb", type=int, default=64)
    parser.add_argument("--keep", type=int, default=4, help="rotated files kept per file")
    parser.add_argument("--rate", type=int, default=10_000, help="lines/s in the latency run")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency run")
    parser.add_argument("--limit-s", type=float, default=900.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tail-") as tmp:
        work = Path(tmp)
        split = where_time_goes(args, work)
        tput = throughput(args, work)
        lat = latency(args, work)
    print(
        f"lines written           {tput['lines']:,} ({tput['bytes'] / 1e6:,.0f} MB, {args.files} files, rotation every {args.rotate_mb} MiB)"
    )
    print(
        f"writer finished after   {tput['write_s']:.2f} s; daemon caught up after {tput['elapsed_s']:.2f} s"
    )
    print(
        f"sustained throughput    {tput['lines_per_s']:,.0f} lines/s  (target {TARGET_LINES_PER_S:,}: ratio {tput['lines_per_s'] / TARGET_LINES_PER_S:.2f})"
    )
    print(f"daemon CPU              {tput['cpu_cores']:.2f} cores")
    print(
        f"daemon peak RSS         {tput['peak_rss_mb']:.0f} MB  (target <= {TARGET_RSS_MB}: ratio {tput['peak_rss_mb'] / TARGET_RSS_MB:.2f})"
    )
    print(f"lost bytes              {tput['lost_bytes']:,}; daemon exit status {tput['exit']}")
    print(
        f"latency run             {lat['rate']:,.0f} lines/s for {args.seconds:.0f} s, {lat['records']:,}/{lat['expected']:,} records seen"
    )
    print(
        f"latency write->sink     p50 {lat['p50_s'] * 1000:.0f} ms, p99 {lat['p99_s'] * 1000:.0f} ms, max {lat['max_s'] * 1000:.0f} ms  (target p99 <= {TARGET_P99_S:.0f} s: ratio {lat['p99_s'] / TARGET_P99_S:.2f})"
    )
    print(f"latency run peak RSS    {lat['peak_rss_mb']:.0f} MB")
    print("where the time goes (same lines, in this process, one thread):")
    print(f"  plain reads (baseline) {split['read_lines_per_s']:,.0f} lines/s")
    print(f"  decoder alone          {split['decode_lines_per_s']:,.0f} lines/s")
    print(f"  decoder + stages       {split['decode_and_stages_lines_per_s']:,.0f} lines/s")
    print(
        f"  daemon / decoder alone {tput['lines_per_s'] / split['decode_lines_per_s']:.2f}; daemon / plain reads {tput['lines_per_s'] / split['read_lines_per_s']:.3f}"
    )


if __name__ == "__main__":
    main()
