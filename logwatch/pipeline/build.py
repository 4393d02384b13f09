"""Assembling the pipeline's stages from the configuration, in data-flow order:
correlate -> metrics -> report -> alerts.

The correlation and alert packages are imported here, on use, so a command that does not need
them (a replay with correlation disabled, `logwatch parse`) does not pay for them. This module
is the one place where those packages plug into the pipeline: ``_correlator`` and
``_alert_stage`` below. A package that is not installed leaves its stage out (and its report
section absent); a package that is present but fails to build raises.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from logwatch.clock import Clock
from logwatch.config import Config
from logwatch.pipeline.stages import RecordStage

log = logging.getLogger(__name__)


class RequestPathLike(Protocol):
    """What replay needs of ``logwatch.correlate.RequestPath``."""

    def to_json(self) -> dict[str, Any]: ...


class PathCorrelator(RecordStage, Protocol):
    """What the pipeline needs of ``logwatch.correlate.Correlator``."""

    def drain_paths(self) -> Sequence[RequestPathLike]: ...
    def finish(self) -> Sequence[RequestPathLike]: ...
    def summary(self) -> dict[str, Any]: ...


class ReportingAlertStage(RecordStage, Protocol):
    """What the pipeline needs of ``logwatch.alerts.AlertStage``."""

    def report(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True, eq=False)
class Stages:
    """The built stages; ``all`` is the order the pipeline calls them in."""

    correlator: PathCorrelator | None
    alerts: ReportingAlertStage | None
    all: tuple[RecordStage, ...]


def build_stages(
    config: Config,
    *,
    clock: Clock,
    outbox: Any = None,
    metrics: RecordStage | None = None,
    report: RecordStage | None = None,
    correlate: bool = True,
    alerts: bool = True,
    alert_state_dir: Path | None = None,
) -> Stages:
    """Build the stages ``config`` enables. ``metrics`` (the daemon's exporter stage) and
    ``report`` (replay's report stage) are built by their owners and slotted in here;
    ``outbox`` is where the alert stage hands notifications (None: alerts are only kept for
    the report). ``correlate`` / ``alerts`` False leave those stages out whatever the config.
    ``alert_state_dir`` (daemon only) is where the alert stage keeps and restores its state;
    replay leaves it None so a replay never touches a live daemon's state."""
    correlator = _correlator(config) if correlate and config.correlation.enabled else None
    alert_stage = (
        _alert_stage(config, clock, outbox, correlator, alert_state_dir) if alerts else None
    )
    ordered: list[RecordStage] = []
    for stage in (correlator, metrics, report, alert_stage):
        if stage is not None:
            ordered.append(stage)
    return Stages(correlator=correlator, alerts=alert_stage, all=tuple(ordered))


def _optional(module: str, attribute: str) -> Any:
    """``module.attribute``, or None when that package is not part of this installation."""
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        log.debug("%s.%s unavailable (%s): stage left out", module, attribute, exc)
        return None


def _correlator(config: Config) -> PathCorrelator | None:
    # plug-in point: logwatch.correlate.Correlator(config.correlation)
    factory = _optional("logwatch.correlate", "Correlator")
    if factory is None:
        return None
    correlator: PathCorrelator = factory(config.correlation)
    return correlator


def _alert_stage(
    config: Config,
    clock: Clock,
    outbox: Any,
    correlator: PathCorrelator | None,
    state_dir: Path | None,
) -> ReportingAlertStage | None:
    # plug-in point: logwatch.alerts.build_alert_stage(config.alerts, clock=, outbox=, correlator=)
    if not getattr(config.alerts, "enabled", True):
        return None
    factory = _optional("logwatch.alerts", "build_alert_stage")
    if factory is None:
        return None
    extra = {} if state_dir is None else {"state_dir": state_dir}
    stage: ReportingAlertStage = factory(
        config.alerts, clock=clock, outbox=outbox, correlator=correlator, **extra
    )
    return stage
