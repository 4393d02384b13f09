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

    max_attempts: int = Field(default=10, ge=1, le=1000)
    base_backoff_s: float = Field(default=1.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    # a server's Retry-After is honoured up to this bound (a broken server cannot park us)
    max_retry_after_s: float = Field(default=3600.0, gt=0)


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=100)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class ConsoleReceiver(_Receiver):
    type: Literal["console"] = "console"
    stream: Literal["stdout", "stderr"] = "stdout"


class SlackReceiver(_Receiver):
    type: Literal["slack"] = "slack"
    webhook_url: Secret
    # Slack accepts about one message per second per incoming webhook
    min_interval_s: float = Field(default=1.0, ge=0)
    max_alerts_listed: int = Field(default=20, ge=1, le=45)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


def _default_severity_map() -> dict[str, PagerDutySeverity]:
    return {"critical": "critical", "warning": "warning", "info": "info"}


class PagerDutyReceiver(_Receiver):
    type: Literal["pagerduty"] = "pagerduty"
    routing_key: Secret
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "logwatch"  # payload.source when the alert has no better location label
    client: str = "logwatch"
    client_url: str | None = None
    # logwatch severity -> PagerDuty severity (critical | error | warning | info)
    severity_map: dict[str, PagerDutySeverity] = Field(default_factory=_default_severity_map)


class WebhookReceiver(_Receiver):
    type: Literal["webhook"] = "webhook"
    url: str
    hmac_secret: Secret | None = None
    external_url: str = ""


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    username: str
    password: Secret


class AlertmanagerReceiver(_Receiver):
    type: Literal["alertmanager"] = "alertmanager"
    url: str  # base URL, e.g. http://alertmanager:9093
    basic_auth: BasicAuth | None = None
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
    batch: int = Field(default=50, ge=1, le=10_000)
    idle_poll_s: float = Field(default=5.0, gt=0)  # longest sleep when nothing is due
    shutdown_timeout_s: float = Field(default=5.0, ge=0)  # grace for the in-flight send
    keep_delivered_s: float = Field(default=7 * 86400.0, ge=0)  # dedupe memory for re-puts


class NotifiersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    receivers: tuple[Receiver, ...] = Field(
        default_factory=lambda: (ConsoleReceiver(name="console"),)
    )
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
