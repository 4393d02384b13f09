"""The progress bar appears on a terminal's stderr and never in the report."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import orjson

from tests.report.conftest import LOGWATCH
from tests.scenario import write_eg_jsonl


def test_progress_bar_on_a_tty_only(tmp_path: Path) -> None:
    path = tmp_path / "eg.jsonl"
    write_eg_jsonl(path, lines=5_000, minutes=10)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*LOGWATCH, "replay", str(path), "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=120,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the pty reports EIO once the child side is closed and drained
                break
            if not data:
                break
            shown += data
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    assert b"replaying [" in shown and b"%" in shown
    assert shown.endswith(b"\r\x1b[K")  # the bar erases itself at the end
    assert orjson.loads(done.stdout)["input"]["lines"] == 5_000
