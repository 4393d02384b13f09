"""What the engine decides: an alert group started firing or resolved, in event time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TransitionStatus = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One rule + group changed state at event time ``at``.

    ``labels`` are complete (``alertname``, ``severity``, static and group labels; empty
    group values left out), ``annotations`` rendered. ``starts_at`` is when the condition
    began; ``ends_at`` (resolved only) when it stopped holding, so ``at - ends_at`` is the
    quiet period. ``events`` counts matching records from the window that started the
    alert up to ``at``. ``sample`` holds request_id/role/pod/namespace/file of one
    matching record, for the request path and the failure's origin hop.
    """

    rule: str
    status: TransitionStatus
    severity: Literal["critical", "warning", "info"]
    group_labels: dict[str, str]
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    at: datetime
    events: int
    value: float
    sample: dict[str, str] = field(default_factory=dict)
