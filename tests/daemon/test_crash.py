"""Crash test: `logwatch run` is SIGKILLed at random moments while files are written and
rotated, 20 times, then restarted; the oracle (sink file + checkpoint) shows nothing lost."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.process import DaemonProcess, sink_request_ids, wait_until
from tests.daemon.records import cri, envoy_json, now_ts

ROUNDS = 20
ROTATE_EVERY_S = 2.0


class Writer(threading.Thread):
    """Appends access lines to two files and rotates them by rename, until stopped."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.written: dict[str, list[str]] = {"a": [], "b": []}
        self.rotations = 0
        self.halt = threading.Event()
        # a file rotated before any daemon saw it is invisible to every later one (outside
        # the glob, in no checkpoint): rotations start once a daemon has checkpointed
        self.may_rotate = threading.Event()

    def run(self) -> None:
        handles = {name: open(self.directory / f"{name}.log", "ab") for name in self.written}  # noqa: SIM115
        next_rotation = time.monotonic() + ROTATE_EVERY_S
        try:
            while not self.halt.is_set():
                for name, handle in handles.items():
                    request_id = f"{name}-{len(self.written[name])}"
                    handle.write((cri(envoy_json(request_id), ts=now_ts()) + "\n").encode())
                    handle.flush()
                    self.written[name].append(request_id)
                if time.monotonic() >= next_rotation and self.may_rotate.is_set():
                    self.rotations += 1
                    for name, handle in handles.items():
                        handle.close()
                        live = self.directory / f"{name}.log"
                        os.rename(live, self.directory / f"{name}.log.{self.rotations}")
                        handles[name] = open(live, "ab")  # noqa: SIM115
                    next_rotation = time.monotonic() + ROTATE_EVERY_S
                time.sleep(0.003)
        finally:
            for handle in handles.values():
                handle.close()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    logs = tmp_path / "logs"
    logs.mkdir()
    thread = Writer(logs)
    thread.start()
    yield thread
    thread.halt.set()
    thread.join(10)


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path, writer: Writer) -> None:
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    sink = tmp_path / "out.ndjson"
    args = (
        "--state-dir",
        str(tmp_path / "state"),
        "--source",
        str(writer.directory / "*.log"),
        "--sink",
        f"file:{sink}",
        "--health-listen",
        "127.0.0.1:0",
    )
    env = {
        "LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "0.2",
        "LOGWATCH_SOURCES__POLL_INTERVAL_S": "0.05",
    }
    for round_ in range(ROUNDS):
        daemon = DaemonProcess(tmp_path, *args, env=env).start()
        try:
            daemon.wait_log("daemon started")
            if round_ == 0:
                # a daemon that never checkpointed cannot know files rotated before it restarts
                wait_until(
                    (tmp_path / "state" / "checkpoints.json").exists, what="first checkpoint"
                )
                writer.may_rotate.set()
            time.sleep(rng.uniform(0.0, 1.2))
        finally:
            daemon.kill()
    writer.halt.set()
    writer.join(10)
    assert writer.rotations >= 5, "the writer should have rotated during the test"

    final = DaemonProcess(tmp_path, *args, env=env).start()
    try:
        expected = {rid for ids in writer.written.values() for rid in ids}
        wait_until(
            lambda: expected <= set(sink_request_ids(sink)),
            limit_s=60,
            what=f"every written line in the sink (seed {seed})",
        )
        final.signal(__import__("signal").SIGTERM)
        assert final.wait(15) == 0
    finally:
        final.kill()
    delivered = sink_request_ids(sink)
    assert set(delivered) == expected, f"seed {seed}"
    for name in writer.written:
        first_seen: list[int] = []
        seen: set[str] = set()
        for rid in delivered:
            if rid.startswith(f"{name}-") and rid not in seen:
                seen.add(rid)
                first_seen.append(int(rid.split("-")[1]))
        assert first_seen == sorted(first_seen), f"{name} out of order (seed {seed})"
    lost = [e for e in final.logs() if "lost" in str(e.get("msg"))]
    assert lost == [], lost
