"""The Notifier contract: deliver one Notification, report how it went, close.

A notifier never raises for a delivery problem: every outcome is a DeliveryResult, and the
dispatcher decides about retries, backoff and dead-lettering. ``reason`` texts are safe to
log: they never contain URLs, routing keys or other secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from logwatch.alerts.model import Notification

DeliveryOutcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """``delivered``; ``retry`` (transient, optionally after ``retry_after_s`` seconds, as a
    server asked with Retry-After); or ``failed`` (permanent: retrying cannot help)."""

    outcome: DeliveryOutcome
    reason: str = ""
    retry_after_s: float | None = None

    @classmethod
    def delivered(cls) -> DeliveryResult:
        return cls("delivered")

    @classmethod
    def retry(cls, reason: str, after_s: float | None = None) -> DeliveryResult:
        return cls("retry", reason, after_s)

    @classmethod
    def failed(cls, reason: str) -> DeliveryResult:
        return cls("failed", reason)


@runtime_checkable
class Notifier(Protocol):
    """One configured receiver.

    ``send`` is called by one task at a time per notifier (the dispatcher serializes each
    receiver), so implementations may keep pacing state without locks. ``aclose`` is
    idempotent; ``send`` after ``aclose`` returns a ``retry`` result.
    """

    name: str

    async def send(self, notification: Notification) -> DeliveryResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Reposting(Protocol):
    """A notifier whose receiver forgets firing alerts unless they are sent again
    (Alertmanager). The dispatcher re-sends the still-firing alerts every
    ``repost_interval_s`` seconds."""

    repost_interval_s: float
