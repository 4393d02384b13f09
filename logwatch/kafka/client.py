"""Connection settings shared by every aiokafka client logwatch opens.

One place turns the validated :class:`KafkaConfig` (+ a source/sink URL) into aiokafka
keyword arguments, so TLS, SASL, timeouts and client id are the same for consumers,
producers and the admin client. It also creates topics logwatch owns (dead letters,
signals) when they are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from logwatch.kafka.config import KafkaConfig
from logwatch.kafka.url import KafkaUrl

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a client connects: the cluster settings plus the URL that named it."""

    config: KafkaConfig
    url: KafkaUrl

    @property
    def bootstrap(self) -> str:
        return self.url.bootstrap or self.config.bootstrap

    @property
    def client_id(self) -> str:
        return self.url.client_id or self.config.client_id


def connection_kwargs(endpoint: Endpoint) -> dict[str, Any]:
    """aiokafka arguments common to all clients (bootstrap, id, security, timeouts)."""
    config = endpoint.config
    kwargs: dict[str, Any] = {
        "bootstrap_servers": endpoint.bootstrap.split(","),
        "client_id": endpoint.client_id,
        "request_timeout_ms": config.request_timeout_ms,
        "retry_backoff_ms": int(config.retry_backoff_min_s * 1000),
        "metadata_max_age_ms": 60_000,
    }
    tls = config.tls
    if tls is not None:
        context = ssl.create_default_context(cafile=tls.cafile)
        context.check_hostname = tls.check_hostname
        if tls.certfile is not None:
            context.load_cert_chain(tls.certfile, tls.keyfile)
        kwargs["ssl_context"] = context
    sasl = config.sasl
    if sasl is not None:
        kwargs["security_protocol"] = "SASL_SSL" if tls is not None else "SASL_PLAINTEXT"
        kwargs["sasl_mechanism"] = sasl.mechanism
        kwargs["sasl_plain_username"] = sasl.username
        kwargs["sasl_plain_password"] = sasl.password.get_secret_value()
    else:
        kwargs["security_protocol"] = "SSL" if tls is not None else "PLAINTEXT"
    return kwargs


async def ensure_topics(endpoint: Endpoint, topics: list[str], timeout_s: float = 30.0) -> None:
    """Create ``topics`` that do not exist yet with the configured partitions.

    Topics that exist are left as they are. Raises KafkaError (or TimeoutError) when the
    cluster cannot be reached within ``timeout_s``; the caller decides whether that is fatal.
    """
    config = endpoint.config
    admin = AIOKafkaAdminClient(**connection_kwargs(endpoint))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_s))
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return
        new = [NewTopic(t, config.create_partitions, config.replication_factor) for t in missing]
        # another instance may create it between list and create
        with contextlib.suppress(TopicAlreadyExistsError):
            await asyncio.wait_for(admin.create_topics(new), timeout_s)
        log.info("created Kafka topics %s", ", ".join(missing))
    except KafkaError as exc:
        raise KafkaError(f"cannot create topics {topics} on {endpoint.bootstrap}: {exc}") from exc
    finally:
        await admin.close()
