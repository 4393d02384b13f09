"""`logwatch run` in both Kafka roles, as an operator starts them: a collector publishing
records (--sink kafka://) and an analyzer consuming them (--source kafka://...?group=)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from parsers import StreamDecoder
from tests.kafka.broker import Broker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LOGWATCH = str(Path(sys.executable).with_name("logwatch"))


def _env() -> dict[str, str]:
    return dict(
        os.environ,
        LOGWATCH_METRICS__PROMETHEUS__LISTEN="127.0.0.1:0",
        LOGWATCH_DAEMON__HEALTH_LISTEN="127.0.0.1:0",
        # tansu has no InitProducerId; real clusters keep the idempotent producer on
        LOGWATCH_KAFKA__IDEMPOTENT="false",
    )


def _expected_records(paths: list[Path]) -> int:
    return sum(StreamDecoder(str(p)).feed(p.read_bytes()).records.height for p in paths)


def test_collector_and_analyzer_commands_move_every_record(broker: Broker, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    inputs = []
    for name in ("envoy-gateway.jsonl", "ztunnel.log", "istio-text.log"):
        inputs.append(logs / f"{name}.log")
        shutil.copy(FIXTURES / name, inputs[-1])
    expected = _expected_records(inputs)
    assert expected > 50

    records_url = f"kafka://{broker.bootstrap}/records"
    collector = subprocess.run(
        [
            LOGWATCH,
            "run",
            "--once",
            "--state-dir",
            str(tmp_path / "collector"),
            "--source",
            str(logs / "*.log"),
            "--sink",
            # lz4 here; the other Kafka tests publish with the default, zstd
            f"{records_url}?compression=lz4",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collector.returncode == 0, collector.stderr[-3000:]

    out = tmp_path / "analyzed.ndjson"
    analyzer = subprocess.Popen(
        [
            LOGWATCH,
            "run",
            "--state-dir",
            str(tmp_path / "analyzer"),
            "--source",
            f"{records_url}?group=analyzers&offset_reset=earliest",
            "--sink",
            f"file:{out}",
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        seen = 0
        hangup = False
        while time.monotonic() < deadline and analyzer.poll() is None:
            seen = len(out.read_bytes().splitlines()) if out.exists() else 0
            if seen and not hangup:  # a reload request does not stop an analyzer
                analyzer.send_signal(signal.SIGHUP)
                hangup = True
            if seen >= expected:
                break
            time.sleep(0.5)
        assert seen == expected, f"analyzer wrote {seen} of {expected} records"
    finally:
        analyzer.send_signal(signal.SIGTERM)
        _, stderr = analyzer.communicate(timeout=60)
    assert analyzer.returncode == 0, stderr[-3000:]
    assert hangup and "SIGHUP ignored: an analyzer applies configuration when restarted" in stderr
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) == expected  # SIGTERM drained without re-delivering
    kinds = {r["kind"] for r in records}
    assert kinds == {"envoy", "ztunnel"}
    rate_limited = [r for r in records if "rate_limited" in r["signals"]]
    assert len(rate_limited) == 3 and all(r["response_flags"] == ["RL"] for r in rate_limited)


def test_a_bad_kafka_url_is_a_clear_start_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [LOGWATCH, "run", "--state-dir", str(tmp_path), "--source", "kafka://127.0.0.1:1/"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "topic" in done.stderr.lower()
    assert "Traceback" not in done.stderr
