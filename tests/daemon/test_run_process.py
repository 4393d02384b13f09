"""`logwatch run` as a subprocess: SIGTERM drain, SIGHUP reload, probes, stdin, --once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from logwatch.checkpoint import CheckpointStore
from tests.daemon.process import ENTRY, DaemonProcess, daemon_env, sink_request_ids, wait_until
from tests.daemon.records import cri, envoy_json
from tests.sources.tailing import append


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def _write(path: Path, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    append(path, *(cri(envoy_json(rid)) for rid in ids))
    return ids


def test_sigterm_drains_flushes_and_checkpoints(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    expected = _write(logs / "a.log", "a", 3000) + _write(logs / "b.log", "b", 3000)
    sink = tmp_path / "out.ndjson"
    daemon = DaemonProcess(
        tmp_path,
        "--state-dir",
        str(tmp_path / "state"),
        "--source",
        str(logs / "*.log"),
        "--sink",
        f"file:{sink}",
        "--health-listen",
        "127.0.0.1:0",
        # no periodic checkpoint: the only one is written by the drain
        env={"LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "3600"},
    ).start()
    daemons.append(daemon)
    daemon.wait_log("daemon started")
    wait_until(lambda: _lag_is_zero(daemon), what="all lines read")
    assert not (tmp_path / "state" / "checkpoints.json").exists()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0
    stopped = daemon.wait_log("daemon stopped")
    assert stopped["checkpointed"] is True and stopped["drain_s"] < 10
    assert sorted(sink_request_ids(sink)) == sorted(expected)
    positions = CheckpointStore(tmp_path / "state").load()
    assert {p.lineno for p in positions.values()} == {3001}
    assert all(p.offset == (logs / Path(p.key).name).stat().st_size for p in positions.values())


def _lag_is_zero(daemon: DaemonProcess) -> bool:
    port = daemon.wait_log("health listener started")["port"]
    body = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()
    following = [e for e in daemon.logs() if e.get("msg") == "following file"]
    return bool(body["ok"]) and body["reason"].endswith("lag_bytes=0") and len(following) == 2


def test_sighup_reloads_sources_and_keeps_running_config_on_error(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    config = tmp_path / "logwatch.yaml"
    config.write_text(f"sources:\n  paths: ['{first}/*.log']\n  poll_interval_s: 0.05\n")
    sink = tmp_path / "out.ndjson"
    daemon = DaemonProcess(
        tmp_path,
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--sink",
        f"file:{sink}",
        "--health-listen",
        "127.0.0.1:0",
        env={"LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "0.1"},
    ).start()
    daemons.append(daemon)
    daemon.wait_log("daemon started")
    _write(first / "a.log", "first", 3)
    _write(second / "b.log", "second", 3)
    wait_until(lambda: len(sink_request_ids(sink)) == 3, what="first dir records")

    config.write_text(f"sources:\n  paths: ['{first}/*.log', '{second}/*.log']\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("configuration reloaded")
    wait_until(lambda: len(sink_request_ids(sink)) == 6, what="second dir records")

    config.write_text("sources:\n  paths: 7\n  bogus: true\n")
    mark = len(daemon.logs())
    daemon.signal(signal.SIGHUP)
    failure = daemon.wait_log("configuration reload failed; keeping the running one", after=mark)
    assert "sources.bogus" in failure["error"]
    _write(second / "b.log", "after", 2)
    wait_until(lambda: len(sink_request_ids(sink)) == 8, what="records after a failed reload")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0


RULE = """
rules:
  - name: {name}
    kind: threshold
    where: {{signals: rate_limited}}
    window: 1m
    threshold: 1
"""


def _engine_rules(state: Path) -> list[str]:
    path = state / "alerts-state.json"
    return sorted(orjson.loads(path.read_bytes())["engine"]["rules"]) if path.exists() else []


def test_sighup_reloads_rules_between_batches_and_keeps_them_on_error(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    logs, state, rules = tmp_path / "logs", tmp_path / "state", tmp_path / "rules.yaml"
    logs.mkdir()
    rules.write_text(RULE.format(name="First"))
    config = tmp_path / "logwatch.yaml"
    config.write_text(
        f"sources:\n  paths: ['{logs}/*.log']\n  poll_interval_s: 0.05\n"
        f"alerts:\n  use_builtin_pack: false\n  rule_files: ['{rules}']\n"
    )
    daemon = DaemonProcess(
        tmp_path,
        "--config",
        str(config),
        "--state-dir",
        str(state),
        env={"LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "0.1"},
    ).start()
    daemons.append(daemon)
    daemon.wait_log("daemon started")
    _write(logs / "a.log", "first", 2)
    wait_until(lambda: _engine_rules(state) == ["First"], what="the first rules in effect")

    rules.write_text(RULE.format(name="Second") + RULE.format(name="Third").split("rules:")[1])
    daemon.signal(signal.SIGHUP)
    assert daemon.wait_log("rules reloaded")["rules"] == ["Second", "Third"]
    _write(logs / "a.log", "second", 2)
    wait_until(lambda: _engine_rules(state) == ["Second", "Third"], what="the reloaded rules")

    rules.write_text(RULE.format(name="Broken").replace("threshold: 1", "threshold: -1"))
    mark = len(daemon.logs())
    daemon.signal(signal.SIGHUP)
    failure = daemon.wait_log("rules reload failed; keeping the running rules", after=mark)
    assert "Broken" in failure["error"]
    _write(logs / "a.log", "third", 2)
    wait_until(lambda: len(daemon.logs()) > mark + 1, what="the daemon going on")
    assert _engine_rules(state) == ["Second", "Third"]
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(15) == 0


def test_health_and_readiness_probes(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    daemon = DaemonProcess(
        tmp_path,
        "--state-dir",
        str(tmp_path / "state"),
        "--source",
        str(logs / "*.log"),
        "--health-listen",
        "127.0.0.1:0",
        env={
            "LOGWATCH_DAEMON__CHECKPOINT_INTERVAL_S": "0.2",
            "LOGWATCH_DAEMON__READY_MAX_CHECKPOINT_AGE_S": "5",
        },
    ).start()
    daemons.append(daemon)
    port = daemon.wait_log("health listener started")["port"]
    base = f"http://127.0.0.1:{port}"
    alive = httpx.get(f"{base}/healthz", timeout=2)
    assert alive.status_code == 200 and alive.json()["ok"] is True
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, what="ready")
    assert httpx.get(f"{base}/nope", timeout=2).status_code == 404
    assert httpx.post(f"{base}/healthz", timeout=2).status_code == 405
    daemon.signal(signal.SIGSTOP)  # a frozen process answers nothing: the probe times out
    try:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{base}/healthz", timeout=0.5)
    finally:
        daemon.signal(signal.SIGCONT)
    daemon.signal(signal.SIGINT)
    assert daemon.wait(15) == 0


def test_stdin_source_reads_to_end_and_exits(tmp_path: Path) -> None:
    lines = "".join(cri(envoy_json(f"s-{n}")) + "\n" for n in range(50)) + "not an access log\n"
    sink = tmp_path / "out.ndjson"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            ENTRY,
            "run",
            "--source",
            "-",
            "--state-dir",
            str(tmp_path / "st"),
            "--sink",
            f"file:{sink}",
            "--health-listen",
            "127.0.0.1:0",
        ],
        input=lines.encode(),
        capture_output=True,
        timeout=60,
        check=False,
        env=daemon_env(),
    )
    assert done.returncode == 0, done.stderr
    assert sink_request_ids(sink) == [f"s-{n}" for n in range(50)]
    assert orjson.loads(sink.read_bytes().splitlines()[0])["file"] == "-"


def test_once_then_resume_reads_only_new_lines(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _write(logs / "a.log", "one", 5)
    sink = tmp_path / "out.ndjson"
    args = [
        "run",
        "--once",
        "--source",
        str(logs / "*.log"),
        "--state-dir",
        str(tmp_path / "st"),
        "--sink",
        f"file:{sink}",
        "--health-listen",
        "127.0.0.1:0",
    ]
    first = subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        capture_output=True,
        timeout=60,
        check=False,
        env=daemon_env(),
    )
    assert first.returncode == 0, first.stderr
    _write(logs / "a.log", "two", 2)
    second = subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        capture_output=True,
        timeout=60,
        check=False,
        env=daemon_env(),
    )
    assert second.returncode == 0, second.stderr
    assert sink_request_ids(sink) == [f"one-{n}" for n in range(5)] + ["two-0", "two-1"]


def test_invalid_configuration_is_reported_before_starting(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            ENTRY,
            "run",
            "--state-dir",
            str(tmp_path),
            "--health-listen",
            "nowhere",
        ],
        capture_output=True,
        timeout=60,
        check=False,
        env=daemon_env(),
    )
    assert done.returncode != 0
    assert b"flag:daemon.health_listen: " in done.stderr
