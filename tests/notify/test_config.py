"""NotifiersConfig: receivers, secret references, defaults, validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from logwatch.config import Config
from logwatch.notify.config import (
    ConsoleReceiver,
    NotifiersConfig,
    PagerDutyReceiver,
    SlackReceiver,
    WebhookReceiver,
)

SECRET_URL = "https://hooks.slack.com/services/T1/B2/very-secret-token-123"


def load(text: str) -> NotifiersConfig:
    return NotifiersConfig.model_validate(yaml.safe_load(text))


def test_default_is_one_console_receiver() -> None:
    config = Config()
    assert [type(r) for r in config.notifiers.receivers] == [ConsoleReceiver]
    assert config.notifiers.receivers[0].name == "console"


def test_secrets_resolve_from_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LW_SLACK_URL", SECRET_URL)
    key_file = tmp_path / "pd_key"
    key_file.write_text("k" * 32 + "\n")
    config = load(
        f"""
receivers:
  - name: chat
    type: slack
    webhook_url: {{env: LW_SLACK_URL}}
  - name: oncall
    type: pagerduty
    routing_key: {{file: {key_file}}}
    retry: {{max_attempts: 3, base_backoff_s: 0.5, max_backoff_s: 10}}
"""
    )
    chat, oncall = config.receivers
    assert isinstance(chat, SlackReceiver) and isinstance(oncall, PagerDutyReceiver)
    assert chat.webhook_url.get_secret_value() == SECRET_URL
    assert oncall.routing_key.get_secret_value() == "k" * 32  # trailing newline stripped
    assert oncall.retry.max_attempts == 3
    assert config.receiver("oncall") is oncall
    for text in (repr(config), str(config), config.model_dump_json()):
        assert "very-secret-token" not in text
        assert "k" * 32 not in text


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("https://inline.example/secret", "not inline"),
        ("{env: LW_NOT_SET_ANYWHERE}", "LW_NOT_SET_ANYWHERE is not set"),
        ("{file: /nonexistent/lw-secret}", "cannot read secret file /nonexistent/lw-secret"),
        ("{vault: x}", "unknown secret reference"),
    ],
)
def test_bad_secret_references_are_clear_errors(reference: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load(f"receivers: [{{name: chat, type: slack, webhook_url: {reference}}}]")


def test_inline_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        load(f"receivers: [{{name: chat, type: slack, webhook_url: '{SECRET_URL}'}}]")
    assert "not inline" in str(caught.value)
    assert "very-secret-token" not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        load(
            "receivers: [{name: am, type: alertmanager, url: x, basic_auth: {username: u, password: pw-in-clear}}]"
        )
    assert "pw-in-clear" not in str(caught.value)


def test_error_from_a_resolved_secret_does_not_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_HMAC", "hmac-secret-value-xyz")
    with pytest.raises(ValidationError) as caught:
        # the secret resolves, then another field fails: the error must not echo the secret
        load(
            "receivers: [{name: w, type: webhook, url: http://x, hmac_secret: {env: LW_HMAC}, timeout_s: -1}]"
        )
    assert "hmac-secret-value-xyz" not in str(caught.value)
    assert "timeout_s" in str(caught.value)


def test_duplicate_names_and_unknown_types_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate receiver names: a"):
        load("receivers: [{name: a, type: console}, {name: a, type: console}]")
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        load("receivers: [{name: a, type: email}]")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        load("receivers: [{name: a, type: console, colour: red}]")


def test_webhook_without_secret_and_alertmanager_auth_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load("receivers: [{name: w, type: webhook, url: 'http://127.0.0.1:1/hook'}]")
    assert isinstance(config.receivers[0], WebhookReceiver)
    assert config.receivers[0].hmac_secret is None
    monkeypatch.setenv("LW_AM_PW", "pw")
    monkeypatch.setenv("LW_AM_TOKEN", "tok")
    with pytest.raises(ValidationError, match="not both"):
        load(
            "receivers: [{name: am, type: alertmanager, url: 'http://127.0.0.1:1',"
            " basic_auth: {username: u, password: {env: LW_AM_PW}}, bearer_token: {env: LW_AM_TOKEN}}]"
        )
