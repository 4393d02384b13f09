"""``kafka://`` source and sink URLs.

Form: ``kafka://[BOOTSTRAP]/TOPIC[?option=value&...]`` where BOOTSTRAP is
``host:port[,host:port...]`` (empty: the ``kafka.bootstrap`` setting). Options:

=================  ======  ==================================================================
option             used by meaning
=================  ======  ==================================================================
``group``          source  consumer group id (default ``logwatch``); analyzers share one group
``offset_reset``   source  ``earliest`` (default) or ``latest``: where a new group starts
``dead_letter``    source  dead-letter topic for poison messages (default: the setting)
``compression``    sink    ``none``, ``gzip``, ``lz4``, ``zstd`` (default: the setting)
``idempotent``     sink    ``true``/``false`` (default: the setting, on)
``client_id``      both    client id reported to the brokers
=================  ======  ==================================================================

:func:`parse_kafka_url` raises :class:`KafkaUrlError` with a message that quotes the URL and
names the problem (unknown option, missing topic, bad port, bad value); it never returns a
half-parsed URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args
from urllib.parse import parse_qsl, urlsplit

from logwatch.kafka.config import Compression

SCHEME = "kafka"
_OPTIONS = frozenset(
    {"group", "offset_reset", "dead_letter", "compression", "idempotent", "client_id"}
)
# Kafka's own rule for topic names (legal characters, at most 249 of them)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


class KafkaUrlError(ValueError):
    """A kafka:// URL that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class KafkaUrl:
    """A parsed kafka:// URL. ``bootstrap`` is None when the URL leaves it to the config."""

    bootstrap: str | None
    topic: str
    group: str = "logwatch"
    offset_reset: str = "earliest"
    dead_letter: str | None = None
    compression: Compression | None = None
    idempotent: bool | None = None
    client_id: str | None = None


def is_kafka_url(text: str) -> bool:
    """Whether ``text`` names a Kafka source or sink (as opposed to a path)."""
    return text.startswith(f"{SCHEME}://")


def parse_kafka_url(text: str) -> KafkaUrl:
    """Parse ``kafka://BOOTSTRAP/TOPIC?...``; raises KafkaUrlError (see module docstring)."""
    if not is_kafka_url(text):
        raise KafkaUrlError(f"{text!r}: not a kafka:// URL")
    parts = urlsplit(text)
    bootstrap = _bootstrap(text, parts.netloc)
    topic = parts.path.lstrip("/")
    if not topic:
        raise KafkaUrlError(f"{text!r}: no topic (expected kafka://BOOTSTRAP/TOPIC)")
    if not _TOPIC.match(topic):
        raise KafkaUrlError(f"{text!r}: {topic!r} is not a valid topic name")
    if parts.fragment:
        raise KafkaUrlError(f"{text!r}: a fragment (#...) has no meaning here")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise KafkaUrlError(f"{text!r}: malformed query string") from None
    options: dict[str, str] = {}
    for name, value in pairs:
        if name not in _OPTIONS:
            known = ", ".join(sorted(_OPTIONS))
            raise KafkaUrlError(f"{text!r}: unknown option {name!r} (known: {known})")
        if name in options:
            raise KafkaUrlError(f"{text!r}: option {name!r} given twice")
        if not value:
            raise KafkaUrlError(f"{text!r}: option {name!r} needs a value")
        options[name] = value
    return KafkaUrl(
        bootstrap=bootstrap,
        topic=topic,
        group=options.get("group", "logwatch"),
        offset_reset=_choice(
            text, "offset_reset", options.get("offset_reset", "earliest"), ("earliest", "latest")
        ),
        dead_letter=_topic_option(text, "dead_letter", options.get("dead_letter")),
        compression=_compression(text, options.get("compression")),
        idempotent=_boolean(text, "idempotent", options.get("idempotent")),
        client_id=options.get("client_id"),
    )


def _bootstrap(text: str, netloc: str) -> str | None:
    if not netloc:
        return None
    if "@" in netloc:
        raise KafkaUrlError(
            f"{text!r}: credentials do not belong in the URL; use kafka.sasl in the config"
        )
    for server in netloc.split(","):
        match = _HOST_PORT.match(server)
        if match is None or not 0 < int(match.group(2)) < 65536:
            raise KafkaUrlError(f"{text!r}: bootstrap server {server!r} is not host:port")
    return netloc


def _choice(text: str, name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise KafkaUrlError(f"{text!r}: {name} must be one of {', '.join(allowed)}")
    return value


def _topic_option(text: str, name: str, value: str | None) -> str | None:
    if value is not None and not _TOPIC.match(value):
        raise KafkaUrlError(f"{text!r}: {name}={value!r} is not a valid topic name")
    return value


def _compression(text: str, value: str | None) -> Compression | None:
    if value is None:
        return None
    allowed: tuple[Compression, ...] = get_args(Compression)
    for codec in allowed:
        if codec == value:
            return codec
    raise KafkaUrlError(f"{text!r}: compression must be one of {', '.join(allowed)}")


def _boolean(text: str, name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise KafkaUrlError(f"{text!r}: {name} must be true or false, not {value!r}")
