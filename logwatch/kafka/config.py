"""Configuration of logwatch.kafka, validated once at load (see logwatch.config).

The section holds what is the same for every Kafka source and sink of one daemon: how to
reach and authenticate to the cluster, how to produce, and the side topics (dead letters,
alert signals). Which topic and consumer group a source reads comes from its URL
(``kafka://BOOTSTRAP/TOPIC?group=G``, see :mod:`logwatch.kafka.url`); URL query options
override these defaults for that one source or sink.

Secrets (the SASL password) are references, ``{env: NAME}`` or ``{file: PATH}``, resolved at
load into ``SecretStr`` the same way as the notifier secrets; they never appear in repr or
error text. Example::

    kafka:
      bootstrap: kafka-0.kafka:9093,kafka-1.kafka:9093
      tls: {cafile: /etc/kafka/ca.pem}
      sasl: {mechanism: SCRAM-SHA-512, username: logwatch, password: {env: KAFKA_PASSWORD}}
      dead_letter_topic: logwatch-dead-letters
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from logwatch.notify.config import resolve_secret

Compression = Literal["none", "gzip", "lz4", "zstd"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaTls(BaseModel):
    """TLS to the brokers. ``cafile`` verifies the brokers; ``certfile``/``keyfile`` give a
    client certificate (mutual TLS). With no cafile the system trust store is used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # CA bundle that signs the brokers' certificates
    cafile: str | None = None
    # client certificate (mutual TLS), with keyfile
    certfile: str | None = None
    # client private key (mutual TLS), with certfile
    keyfile: str | None = None
    # verify the broker's name against its certificate
    check_hostname: bool = True

    @model_validator(mode="after")
    def _pair(self) -> KafkaTls:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together (client certificate)")
        return self


class KafkaSasl(BaseModel):
    """SASL authentication; the password is a secret reference, never inline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (use TLS with PLAIN)
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    # SASL user
    username: str = Field(min_length=1)
    # SASL password
    password: Annotated[SecretStr, BeforeValidator(resolve_secret)]


class KafkaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # host:port[,host:port...]; a kafka:// URL that names its own bootstrap overrides it
    bootstrap: str = "localhost:9092"
    # client id the brokers see (quotas, logs)
    client_id: str = "logwatch"
    # TLS to the brokers (optional section)
    tls: KafkaTls | None = None
    # SASL authentication (optional section)
    sasl: KafkaSasl | None = None

    # producer: batch compression (zstd: Kafka's usual choice, cheap on CPU, small on disk)
    compression: Compression = "zstd"
    # producer: wait this long to fill a batch
    linger_ms: int = Field(default=20, ge=0, le=10_000)
    # producer: largest batch per partition
    max_batch_bytes: int = Field(default=1 << 20, ge=16 << 10, le=64 << 20)
    # needs InitProducerId on the broker; turn off only for brokers that lack it
    idempotent: bool = True
    # timeout of one request to a broker
    request_timeout_ms: int = Field(default=30_000, ge=1000, le=600_000)
    # records published by the collector are queued at most this many before send blocks
    max_pending_messages: int = Field(default=200_000, ge=1000)

    # consumer
    max_poll_records: int = Field(default=20_000, ge=1, le=1_000_000)
    # offsets are committed at least this often (after a successful pipeline flush)
    commit_interval_s: float = Field(default=1.0, gt=0, le=300)
    # consumer: a member silent this long leaves the group (its partitions move)
    session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000)
    # consumer: heartbeat period (well below session_timeout_ms)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100, le=60_000)
    # reconnect backoff after a broker outage: doubles from min to max
    retry_backoff_min_s: float = Field(default=0.2, gt=0, le=60)
    # longest wait between reconnect attempts
    retry_backoff_max_s: float = Field(default=10.0, gt=0, le=600)

    # side topics
    dead_letter_topic: str = "logwatch-dead-letters"
    # topic of per-rule aggregates keyed by alert group (the analyzers' alert partitioning)
    signals_topic: str = "logwatch-alert-signals"
    # partitions for topics logwatch creates itself (when they do not exist yet)
    create_partitions: int = Field(default=6, ge=1, le=10_000)
    # replication of topics logwatch creates
    replication_factor: int = Field(default=1, ge=1, le=16)

    @model_validator(mode="after")
    def _consistent(self) -> KafkaConfig:
        if self.retry_backoff_min_s > self.retry_backoff_max_s:
            raise ValueError("retry_backoff_min_s must not exceed retry_backoff_max_s")
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be at most a third of session_timeout_ms")
        if not all(part.strip() for part in self.bootstrap.split(",")):
            raise ValueError("bootstrap must be host:port[,host:port...]")
        return self
