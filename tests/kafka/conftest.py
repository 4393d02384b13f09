from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh broker per test: tests never see each other's topics or groups."""
    running = Broker(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()
