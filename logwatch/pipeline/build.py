"""Assembling the pipeline's stages from the configuration, in data-flow order:
correlate -> metrics -> report -> alerts.

The correlation and alert packages are imported on use, so a command that does not need them
(a replay with correlation off, `logwatch parse`) does not pay for their imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from logwatch.clock import Clock
from logwatch.config import Config
from logwatch.pipeline.stages import RecordStage

if TYPE_CHECKING:
    from logwatch.alerts.stage import AlertStage, Outbox
    from logwatch.correlate import Correlator


@dataclass(frozen=True, slots=True, eq=False)
class Stages:
    """The built stages; ``all`` is the order the pipeline calls them in."""

    correlator: Correlator | None
    alerts: AlertStage | None
    all: tuple[RecordStage, ...]


def build_stages(
    config: Config,
    *,
    clock: Clock,
    outbox: Outbox | None = None,
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
    replay leaves it None so a replay never touches a live daemon's state.

    Raises RuleError when a configured rule is invalid."""
    correlator: Correlator | None = None
    if correlate and config.correlation.enabled:
        from logwatch.correlate import Correlator

        correlator = Correlator(config.correlation)
    alert_stage: AlertStage | None = None
    if alerts and config.alerts.enabled:
        from logwatch.alerts import build_alert_stage

        alert_stage = build_alert_stage(
            config.alerts,
            clock=clock,
            outbox=outbox,
            correlator=correlator,
            state_dir=alert_state_dir,
        )
    ordered = [s for s in (correlator, metrics, report, alert_stage) if s is not None]
    return Stages(correlator=correlator, alerts=alert_stage, all=tuple(ordered))
