"""Hop correlation: rebuilds each request's path ingress -> ztunnel -> waypoint -> backend.

The stage is :class:`Correlator`; its outputs are :class:`RequestPath` objects (NDJSON via
``to_json``), the report's ``hops`` section (``summary``) and :class:`CorrelationStats`.
Names are imported on first use, so loading the configuration (which needs only
``logwatch.correlate.config``) does not load the join engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logwatch.correlate.config import CorrelationConfig
    from logwatch.correlate.correlator import Correlator
    from logwatch.correlate.path import FailureOrigin, Hop, RequestPath, ZtunnelLeg
    from logwatch.correlate.stats import CorrelationStats, OriginKey

_EXPORTS = {
    "CorrelationConfig": "logwatch.correlate.config",
    "CorrelationStats": "logwatch.correlate.stats",
    "Correlator": "logwatch.correlate.correlator",
    "FailureOrigin": "logwatch.correlate.path",
    "Hop": "logwatch.correlate.path",
    "OriginKey": "logwatch.correlate.stats",
    "RequestPath": "logwatch.correlate.path",
    "ZtunnelLeg": "logwatch.correlate.path",
}

__all__ = [
    "CorrelationConfig",
    "CorrelationStats",
    "Correlator",
    "FailureOrigin",
    "Hop",
    "OriginKey",
    "RequestPath",
    "ZtunnelLeg",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
