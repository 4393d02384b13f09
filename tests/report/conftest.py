"""A node scenario written once per test session, and the real `logwatch` command to run on it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scenario import Truth, write_node_scenario

# the installed console script, next to the interpreter running the tests
LOGWATCH = [str(Path(sys.executable).with_name("logwatch"))]


@dataclass(frozen=True)
class Node:
    root: Path
    truth: Truth


def run_logwatch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`logwatch ARGS` in a fresh process (bounded: 120 s)."""
    return subprocess.run(
        [*LOGWATCH, *args], input=stdin, capture_output=True, timeout=120, check=False
    )


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    root = tmp_path_factory.mktemp("node") / "var-log"
    return Node(root, write_node_scenario(root))
