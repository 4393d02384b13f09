"""`logwatch run` as a real subprocess: start, signal, read its JSON logs and its sink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ENTRY = "from logwatch.cli.main import main; main()"


def daemon_env(**extra: str) -> dict[str, str]:
    """The environment of a test daemon: every listener on a free loopback port."""
    return {
        **os.environ,
        "LOGWATCH_DAEMON__LOG_LEVEL": "INFO",
        "LOGWATCH_METRICS__PROMETHEUS__LISTEN": "127.0.0.1:0",
        **extra,
    }


class DaemonProcess:
    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"daemon-{time.monotonic_ns()}.log"
        self.args = args
        self.env = daemon_env(**(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", ENTRY, "run", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self.env,
                cwd=self.workdir,
            )
        return self

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append({"msg": line.decode(errors="replace")})
        return out

    def wait_log(self, msg: str, limit_s: float = 20.0, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            found = [e for e in self.logs()[after:] if e.get("msg") == msg]
            if found:
                return found[0]
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.logs()}")
            time.sleep(0.05)
        raise AssertionError(f"no log {msg!r} within {limit_s}s: {self.logs()[-5:]}")

    def signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, limit_s: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(limit_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def sink_request_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [orjson.loads(line)["request_id"] for line in path.read_bytes().splitlines()]


def wait_until(condition: Any, limit_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
