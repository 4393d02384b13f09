"""Kafka topology benchmark: raw lines -> collector -> records topic -> analyzer.

    .venv/bin/python bench/kafka.py --lines 1000000

A tansu broker is started on loopback; ``--lines`` Envoy Gateway JSON lines (2% rate
limited) are produced to the ``raw`` topic with confluent-kafka (untimed). Then a collector
process (raw -> parse -> records topic) and an analyzer process (records -> rule aggregates
-> signals topic) run at the same time, as in a deployment, and the clock runs from their
start until the analyzer has taken every record. Printed: records/s end to end, the
consumer lag of both stages sampled over time, and the ratio against the baseline measured
in the same run: a bare aiokafka consumer reading the raw topic (no decoding, parsing or
producing), i.e. the ceiling one Python consumer reaches on this machine. Before the
topology run, the collector's two halves are timed alone in this process (parse, then
publish the parsed records), which shows what one collector process can reach at best.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from logwatch.clock import WallClock  # noqa: E402
from logwatch.kafka.client import Endpoint, ensure_topics  # noqa: E402
from logwatch.kafka.config import KafkaConfig  # noqa: E402
from logwatch.kafka.consumer import KafkaSource  # noqa: E402
from logwatch.kafka.producer import KafkaRecordSink  # noqa: E402
from logwatch.kafka.signals import SignalPublisher  # noqa: E402
from logwatch.kafka.url import parse_kafka_url  # noqa: E402
from logwatch.pipeline.pipeline import Pipeline  # noqa: E402
from parsers import StreamDecoder  # noqa: E402
from rules.builtin import builtin_pack  # noqa: E402
from tests.kafka.broker import Broker  # noqa: E402

TEMPLATE = (
    '{{":authority":"shop.example.com","bytes_received":0,"bytes_sent":{sent},'
    '"connection_termination_details":null,"downstream_local_address":"10.244.1.70:10080",'
    '"downstream_remote_address":"172.18.0.1:{port}","duration":{duration},"method":"GET",'
    '"protocol":"HTTP/1.1","requested_server_name":null,"response_code":{code},'
    '"response_code_details":"{details}","response_flags":"{flags}",'
    '"route_name":"httproute/shop/{route}/rule/0/match/0/*","start_time":"{time}",'
    '"upstream_cluster":"httproute/shop/{route}/rule/0","upstream_host":"10.244.2.{host}:8080",'
    '"upstream_local_address":"10.244.1.70:{port}","upstream_transport_failure_reason":null,'
    '"user-agent":"bench","x-envoy-origin-path":"/{route}","x-envoy-upstream-service-time":"{duration}",'
    '"x-forwarded-for":"172.18.0.1","x-request-id":"00000000-0000-4000-8000-{index:012d}"}}'
)
ROUTES = ("frontend", "checkout", "search", "cart", "catalog")


def raw_line(index: int) -> bytes:
    limited = index % 50 == 0
    seconds = index // 1000  # 1000 requests per second of event time
    stamp = f"2025-07-18T{3 + seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return TEMPLATE.format(
        sent=index % 9000,
        port=20000 + index % 40000,
        duration=index % 97,
        code=429 if limited else 200,
        details="local_rate_limited" if limited else "via_upstream",
        flags="RL" if limited else "-",
        route=ROUTES[index % len(ROUTES)],
        time=f"{stamp}.{index % 1000:03d}Z",
        host=index % 50,
        index=index,
    ).encode()


def config(bootstrap: str, compression: str) -> KafkaConfig:
    return KafkaConfig.model_validate(
        {
            "bootstrap": bootstrap,
            "idempotent": False,  # tansu has no InitProducerId
            "compression": compression,
            "max_poll_records": 20_000,
            "commit_interval_s": 1.0,
            "create_partitions": 6,
        }
    )


def produce_raw(bootstrap: str, lines: int) -> float:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "gzip",
            "enable.idempotence": False,
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.monotonic()
    for index in range(lines):
        key = f"pod-{index % 60}".encode()  # a shipper keys by stream
        while True:
            try:
                producer.produce("raw", raw_line(index), key)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        raise RuntimeError("raw lines not acknowledged")
    return time.monotonic() - started


async def baseline(bootstrap: str, lines: int) -> float:
    consumer = AIOKafkaConsumer(
        "raw",
        bootstrap_servers=bootstrap,
        group_id="baseline",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        started, seen = None, 0
        while seen < lines:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            if started is None and fetched:
                started = time.monotonic()
            seen += sum(len(m) for m in fetched.values())
        assert started is not None
        return time.monotonic() - started
    finally:
        await consumer.stop()


def collector_stages(bootstrap: str, lines: int, compression: str) -> None:
    """The collector's two halves alone, in this process, on 20,000-line batches as it takes
    them: parsing the raw lines, then publishing the parsed records (to a scratch topic)."""
    batch = 20_000
    chunks = [
        b"".join(raw_line(i) + b"\n" for i in range(start, min(start + batch, lines)))
        for start in range(0, lines, batch)
    ]
    decoder = StreamDecoder(None)
    started = time.perf_counter()
    parsed = [decoder.feed(chunk).records for chunk in chunks]
    parse_s = time.perf_counter() - started
    sink = KafkaRecordSink(
        Endpoint(config(bootstrap, compression), parse_kafka_url(f"kafka://{bootstrap}/stages"))
    )
    try:
        started = time.perf_counter()
        for records in parsed:
            sink.on_records(records)
        sink.flush()
        publish_s = time.perf_counter() - started
    finally:
        sink.close()
    print(
        f"collector stages alone: parse {lines / parse_s:,.0f} lines/s, "
        f"publish {lines / publish_s:,.0f} records/s; both on one core: "
        f"{lines / (parse_s + publish_s):,.0f} records/s"
    )


async def role(name: str, bootstrap: str, compression: str) -> None:
    """One side of the topology; prints {"t", "records"} lines until SIGTERM/stdin EOF."""
    settings = config(bootstrap, compression)

    def endpoint(url: str) -> Endpoint:
        return Endpoint(settings, parse_kafka_url(url))

    stop = asyncio.Event()
    if name == "collector":
        sink = KafkaRecordSink(endpoint(f"kafka://{bootstrap}/records"))
        stage: KafkaRecordSink | SignalPublisher = sink
        source = KafkaSource(endpoint(f"kafka://{bootstrap}/raw?group=collectors"))
    else:
        stage = SignalPublisher(endpoint(f"kafka://{bootstrap}/signals"), builtin_pack(), "a1")
        source = KafkaSource(endpoint(f"kafka://{bootstrap}/records?group=analyzers"))
    pipeline = Pipeline([stage], clock=WallClock(), allowed_lateness=timedelta(hours=2))
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes stdin to stop us

    async def report() -> None:
        while not stop.is_set():
            print(json.dumps({"t": time.time(), "records": pipeline.stats.records}), flush=True)
            await asyncio.sleep(0.5)

    reporter = asyncio.create_task(report())
    try:
        await source.run(pipeline, stop)
    finally:
        reporter.cancel()
        stage.close()


class Progress:
    """Reads a role's progress lines on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.samples: list[tuple[float, int]] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sample = json.loads(line)
            self.samples.append((float(sample["t"]), int(sample["records"])))

    @property
    def records(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def at(self, when: float) -> int:
        return max((n for t, n in self.samples if t <= when), default=0)


def run_topology(bootstrap: str, lines: int, compression: str) -> float:
    """Run collector and analyzer until every record is analyzed; returns records/s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = {
        name: subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                name,
                "--bootstrap",
                bootstrap,
                "--compression",
                compression,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("collector", "analyzer")
    }
    started = time.time()
    progress = {name: Progress(p) for name, p in processes.items()}
    deadline = time.monotonic() + max(600.0, lines / 1000)
    while progress["analyzer"].records < lines:
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
            raise RuntimeError(f"topology stalled: {progress['analyzer'].records} of {lines}")
        time.sleep(0.2)
    done = time.time()
    for process in processes.values():
        assert process.stdin is not None
        process.stdin.close()
    for process in processes.values():
        process.wait(60)

    elapsed = done - started
    # steady state: from the last moment the collector had taken nothing (processes
    # started, group joined) to the analyzer taking the last record
    idle = [t for t, n in progress["collector"].samples if n == 0]
    first = max(idle) if idle else started
    steady = done - first
    print(
        f"wall time from launch (process start, group join included): {elapsed:.2f} s "
        f"= {lines / elapsed:,.0f} records/s"
    )
    print(
        f"end to end, steady: {lines:,} records in {steady:.2f} s = {lines / steady:,.0f} records/s"
    )
    print("lag over time (messages not yet processed):")
    print(
        f"{'t (s)':>7} {'collector done':>15} {'analyzer done':>14} {'raw lag':>9} {'records lag':>12}"
    )
    step = max(1.0, round(elapsed / 25))
    moment = 0.0
    while moment <= elapsed + step:
        when = started + moment
        collected, analyzed = progress["collector"].at(when), progress["analyzer"].at(when)
        # the collector counts a fetched batch once all of it is published, and each side
        # reports every 0.5 s: the analyzer may briefly look ahead, shown as no lag
        print(
            f"{moment:7.1f} {collected:15,} {analyzed:14,} {lines - collected:9,} "
            f"{max(0, collected - analyzed):12,}"
        )
        moment += step
    return lines / steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--compression", default="zstd", choices=["none", "gzip", "lz4", "zstd"])
    parser.add_argument("--role", choices=["collector", "analyzer"])
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    if args.role:
        asyncio.run(role(args.role, args.bootstrap, args.compression))
        return

    with tempfile.TemporaryDirectory() as scratch:
        broker = Broker(Path(scratch))
        broker.start()
        try:
            bootstrap = broker.bootstrap
            settings = config(bootstrap, args.compression)
            asyncio.run(
                ensure_topics(
                    Endpoint(settings, parse_kafka_url(f"kafka://{bootstrap}/raw")),
                    ["raw", "records", "signals", "stages"],
                )
            )
            produced = produce_raw(bootstrap, args.lines)
            print(
                f"produced {args.lines:,} raw lines with confluent-kafka in {produced:.2f} s "
                f"({args.lines / produced:,.0f}/s, untimed)"
            )
            bare = asyncio.run(baseline(bootstrap, args.lines))
            bare_rate = args.lines / bare
            print(
                f"baseline (bare aiokafka consumer, raw topic, first to last fetch): {bare_rate:,.0f} messages/s"
            )
            collector_stages(bootstrap, args.lines, args.compression)
            rate = run_topology(bootstrap, args.lines, args.compression)
            print(f"ratio end to end / baseline: {rate / bare_rate:.2f}")
            print(f"target 100,000 records/s: {'met' if rate >= 100_000 else 'not met'}")
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
