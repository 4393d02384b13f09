"""Alert lifecycle: rules engine stage, dedupe, grouping, silences, inhibition, routing.

``build_alert_stage`` and ``AlertStage`` are imported on first use, so that importing the
boundary types (``logwatch.alerts.model``) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AlertStage", "build_alert_stage"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from logwatch.alerts import stage

        return getattr(stage, name)
    raise AttributeError(name)
