"""The README's metrics reference comes from the METRICS table."""

from __future__ import annotations

from logwatch.metrics.instruments import METRICS
from logwatch.metrics.reference import render_markdown


def test_reference_lists_every_metric_once() -> None:
    text = render_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| `logwatch")]
    assert len(rows) == len(METRICS)
    for spec in METRICS:
        assert sum(f"`{spec.name}`" in row for row in rows) == 1
        for name in spec.prometheus_names:
            assert f"`{name}`" in text


def test_metric_names_follow_conventions() -> None:
    names = [spec.name for spec in METRICS]
    assert len(set(names)) == len(names)
    for spec in METRICS:
        assert spec.name.startswith("logwatch.") and spec.name == spec.name.lower()
        assert spec.unit and spec.description.endswith(".")
        # units live in metadata, never in the OTel name
        assert not spec.name.endswith(("_seconds", "_bytes", ".seconds", ".bytes"))
