"""kafka:// URLs and the kafka config section: what is accepted, and clear refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from logwatch.kafka.client import Endpoint, connection_kwargs
from logwatch.kafka.config import KafkaConfig
from logwatch.kafka.url import KafkaUrl, KafkaUrlError, parse_kafka_url


def test_a_full_url_parses() -> None:
    url = parse_kafka_url(
        "kafka://k0:9092,k1:9093/envoy-logs?group=analyzers&offset_reset=latest"
        "&dead_letter=dlq&compression=none&idempotent=false&client_id=node-7"
    )
    assert url == KafkaUrl(
        bootstrap="k0:9092,k1:9093",
        topic="envoy-logs",
        group="analyzers",
        offset_reset="latest",
        dead_letter="dlq",
        compression="none",
        idempotent=False,
        client_id="node-7",
    )


def test_an_empty_bootstrap_defers_to_the_config() -> None:
    url = parse_kafka_url("kafka:///records")
    assert url.bootstrap is None and url.group == "logwatch"
    endpoint = Endpoint(KafkaConfig(bootstrap="cfg:9092"), url)
    assert connection_kwargs(endpoint)["bootstrap_servers"] == ["cfg:9092"]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("http://k:9092/t", "not a kafka:// URL"),
        ("kafka://k:9092", "no topic"),
        ("kafka://k:9092/", "no topic"),
        ("kafka://k:9092/bad topic", "not a valid topic name"),
        ("kafka://k/t", "is not host:port"),
        ("kafka://k:99999/t", "is not host:port"),
        ("kafka://user:pw@k:9092/t", "credentials do not belong"),
        ("kafka://k:9092/t?grp=x", "unknown option 'grp'"),
        ("kafka://k:9092/t?group=a&group=b", "given twice"),
        ("kafka://k:9092/t?group=", "needs a value"),
        ("kafka://k:9092/t?offset_reset=middle", "offset_reset must be one of"),
        ("kafka://k:9092/t?compression=snappy", "compression must be one of"),
        ("kafka://k:9092/t?idempotent=maybe", "idempotent must be true or false"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(KafkaUrlError, match=complaint) as caught:
        parse_kafka_url(text)
    assert repr(text) in str(caught.value)


def test_sasl_password_is_a_secret_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", "s3cret")
    config = KafkaConfig.model_validate(
        {
            "sasl": {
                "mechanism": "SCRAM-SHA-256",
                "username": "lw",
                "password": {"env": "KAFKA_PASSWORD"},
            }
        }
    )
    assert "s3cret" not in repr(config)
    kwargs = connection_kwargs(Endpoint(config, parse_kafka_url("kafka:///t")))
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["sasl_plain_password"] == "s3cret"
    with pytest.raises(ValidationError, match="not inline"):
        KafkaConfig.model_validate({"sasl": {"username": "lw", "password": "inline"}})


def test_tls_and_codec_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="certfile and keyfile go together"):
        KafkaConfig.model_validate({"tls": {"certfile": "/c.pem"}})
    with pytest.raises(ValidationError, match="compression"):
        KafkaConfig.model_validate({"compression": "snappy"})
    with pytest.raises(ValidationError, match="heartbeat"):
        KafkaConfig(session_timeout_ms=3000, heartbeat_interval_ms=2000)
    assert KafkaConfig().compression == "zstd" and KafkaConfig().idempotent is True
