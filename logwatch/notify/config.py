"""Configuration of logwatch.notify, validated once at load (see logwatch.config).

A list of named receivers, each of one ``type``. Secrets (the Slack webhook URL, the
PagerDuty routing key, the webhook HMAC secret, Alertmanager credentials) are never written
inline: they are references, ``{env: NAME}`` or ``{file: PATH}``, resolved at load into
pydantic ``SecretStr`` so that they never appear in ``repr``, logs or error text. A missing
variable or unreadable file fails the load with an error naming the variable or path, never
the value.

Example::

    notifiers:
      receivers:
        - name: oncall
          type: pagerduty
          routing_key: {env: PD_ROUTING_KEY}
        - name: team-chat
          type: slack
          webhook_url: {file: /run/secrets/slack_webhook}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)


def resolve_secret(reference: Any) -> SecretStr:
    """Resolve ``{env: NAME}`` or ``{file: PATH}`` into a SecretStr.

    Raises ValueError naming the variable or file (never its content) when the reference is
    malformed, the variable is unset or empty, or the file cannot be read. Literal strings
    are refused so that a secret is never kept in a config file that gets shared or logged.
    """
    if isinstance(reference, SecretStr):
        return reference
    if not isinstance(reference, dict) or len(reference) != 1:
        raise ValueError("a secret must be given as {env: NAME} or {file: PATH}, not inline")
    ((kind, where),) = reference.items()
    if not isinstance(where, str) or not where:
        raise ValueError(f"secret reference {kind!r} needs a non-empty string")
    if kind == "env":
        value = os.environ.get(where, "")
        if not value:
            raise ValueError(f"secret environment variable {where} is not set or empty")
        return SecretStr(value)
    if kind == "file":
        try:
            value = Path(where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read secret file {where}: {exc.strerror}") from None
        if not value:
            raise ValueError(f"secret file {where} is empty")
        return SecretStr(value)
    raise ValueError(f"unknown secret reference {kind!r}: use env or file")


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter; dead-letter after ``max_attempts`` attempts."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # attempts before a notification is dead-lettered (counted and logged)
    max_attempts: int = Field(default=10, ge=1, le=1000)
    # first retry waits up to this long; each further one doubles it (full jitter)
    base_backoff_s: float = Field(default=1.0, gt=0)
    # ceiling of the backoff between two attempts
    max_backoff_s: float = Field(default=300.0, gt=0)
    # a server's Retry-After is honoured up to this bound (a broken server cannot park us)
    max_retry_after_s: float = Field(default=3600.0, gt=0)


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # what alert routes (alerts.receiver, alerts.routes[].receiver) call this receiver
    name: str = Field(min_length=1, max_length=100)
    # total time one delivery request may take (connect, send, read)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # how failed deliveries are retried
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class ConsoleReceiver(_Receiver):
    # one readable line per alert on the daemon's stdout or stderr
    type: Literal["console"] = "console"
    # where the console lines go
    stream: Literal["stdout", "stderr"] = "stdout"


class SlackReceiver(_Receiver):
    # Slack incoming webhook, Block Kit message; log text is escaped so it cannot mention anyone
    type: Literal["slack"] = "slack"
    # the incoming webhook URL (a secret: it alone allows posting)
    webhook_url: Secret
    # Slack accepts about one message per second per incoming webhook
    min_interval_s: float = Field(default=1.0, ge=0)
    # alerts listed in one message; the rest are counted
    max_alerts_listed: int = Field(default=20, ge=1, le=45)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


def _default_severity_map() -> dict[str, PagerDutySeverity]:
    return {"critical": "critical", "warning": "warning", "info": "info"}


class PagerDutyReceiver(_Receiver):
    # PagerDuty Events API v2: trigger and resolve with a stable dedup_key per alert
    type: Literal["pagerduty"] = "pagerduty"
    # the integration's routing key
    routing_key: Secret
    # Events API endpoint (change only for a proxy or a test receiver)
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "logwatch"  # payload.source when the alert has no better location label
    # payload client name shown in PagerDuty
    client: str = "logwatch"
    # link shown with the client name
    client_url: str | None = None
    # logwatch severity -> PagerDuty severity (critical | error | warning | info)
    severity_map: dict[str, PagerDutySeverity] = Field(default_factory=_default_severity_map)


class WebhookReceiver(_Receiver):
    # generic webhook: Alertmanager-webhook-compatible JSON (version 4)
    type: Literal["webhook"] = "webhook"
    # where the JSON is POSTed
    url: str
    # when set, X-Logwatch-Signature: sha256=<hex HMAC of the body> is sent
    hmac_secret: Secret | None = None
    # externalURL field of the payload
    external_url: str = ""


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # Alertmanager basic-auth user
    username: str
    # Alertmanager basic-auth password
    password: Secret


class AlertmanagerReceiver(_Receiver):
    # Alertmanager API v2 (POST /api/v2/alerts); endsAt set on resolve
    type: Literal["alertmanager"] = "alertmanager"
    url: str  # base URL, e.g. http://alertmanager:9093
    # basic auth for Alertmanager (or bearer_token, not both)
    basic_auth: BasicAuth | None = None
    # bearer token for Alertmanager
    bearer_token: Secret | None = None
    # Alertmanager resolves alerts that are not re-posted; firing alerts are re-sent this often
    repost_interval_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _one_auth(self) -> AlertmanagerReceiver:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise ValueError("alertmanager: give basic_auth or bearer_token, not both")
        return self


AnyReceiver = (
    ConsoleReceiver | SlackReceiver | PagerDutyReceiver | WebhookReceiver | AlertmanagerReceiver
)
Receiver = Annotated[AnyReceiver, Field(discriminator="type")]


class DeliveryConfig(BaseModel):
    """How the dispatcher drains the durable outbox."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    outbox_file: str = "outbox.sqlite3"  # relative to the state dir
    # outbox entries a receiver's sender takes at once
    batch: int = Field(default=50, ge=1, le=10_000)
    idle_poll_s: float = Field(default=5.0, gt=0)  # longest sleep when nothing is due
    shutdown_timeout_s: float = Field(default=5.0, ge=0)  # grace for the in-flight send
    keep_delivered_s: float = Field(default=7 * 86400.0, ge=0)  # dedupe memory for re-puts


class NotifiersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # named receivers; alerts are routed to them by name (default: one console receiver)
    receivers: tuple[Receiver, ...] = Field(
        default_factory=lambda: (ConsoleReceiver(name="console"),)
    )
    # the durable outbox and its dispatcher
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)

    @model_validator(mode="after")
    def _unique_names(self) -> NotifiersConfig:
        names = [receiver.name for receiver in self.receivers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate receiver names: {', '.join(duplicates)}")
        return self

    def receiver(self, name: str) -> AnyReceiver:
        """The receiver called ``name``; KeyError if none is configured."""
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(name)
