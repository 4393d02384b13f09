"""The one config loader: file (--config, YAML), then LOGWATCH_* environment, then flags.

Validated once at start; everything after receives these typed, frozen objects. Each package
owns the model of its own section (``logwatch.<package>.config``); the sections of the daemon
itself (sources, parse, daemon, sinks) live here.

Environment mapping: ``LOGWATCH_<KEY>`` sets a top-level key and ``__`` descends into a
section, case-insensitively: ``LOGWATCH_STATE_DIR=/data`` sets ``state_dir``,
``LOGWATCH_DAEMON__SHUTDOWN_TIMEOUT_S=5`` sets ``daemon.shutdown_timeout_s`` and
``LOGWATCH_SOURCES__PATHS='["/logs/*.log"]'`` sets a list. Values are read as YAML scalars
(numbers, booleans, flow lists); anything else stays a string.

Failure mode: any invalid value raises :class:`ConfigError` whose message has one line per
problem, ``<origin>:<dotted.key>: <message>``, where origin is the file path, ``env
LOGWATCH_...`` or ``flag``; nothing is half-applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from logwatch.alerts.config import AlertsConfig
from logwatch.correlate.config import CorrelationConfig
from logwatch.kafka.config import KafkaConfig
from logwatch.metrics.config import MetricsConfig
from logwatch.notify.config import NotifiersConfig

ENV_PREFIX = "LOGWATCH_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names origin and key of each problem."""


class PodSelector(BaseModel):
    """Shell-style patterns (fnmatch) on the Kubernetes coordinates of a log file path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # namespace pattern (fnmatch)
    namespace: str = "*"
    # pod name pattern (fnmatch)
    pod: str = "*"
    # container name pattern (fnmatch)
    container: str = "*"


def _kafka_url(value: str | None) -> str | None:
    """Checked at load so a bad URL stops `logwatch run` with a message, not a traceback."""
    if value is not None:
        from logwatch.kafka.url import parse_kafka_url

        parse_kafka_url(value)  # raises KafkaUrlError, a ValueError
    return value


def _default_include() -> list[PodSelector]:
    return [
        # ztunnel, the ambient node proxy
        PodSelector(namespace="istio-system", pod="ztunnel-*", container="istio-proxy"),
        # Envoy Gateway proxies (ingress and Envoy Gateway based waypoints)
        PodSelector(container="envoy"),
        # Istio waypoints
        PodSelector(pod="waypoint*", container="istio-proxy"),
    ]


class SourcesConfig(BaseModel):
    """What to tail. A file is followed when its path matches one of ``paths`` and, when the
    path is a Kubernetes log path, its pod/namespace/container match an ``include`` selector
    and no ``exclude`` selector. Files outside the Kubernetes layout are always followed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # file globs to follow (symlinks are followed to the real file, each file once)
    paths: tuple[str, ...] = ("/var/log/containers/*.log",)
    # also read standard input (`--source stdin` or `-`)
    stdin: bool = False
    # analyzer mode: consume records (or raw lines / shipper envelopes) from this
    # kafka://BOOTSTRAP/TOPIC?group=G URL instead of tailing files (see the README's Kafka part)
    kafka: str | None = None

    _check_kafka = field_validator("kafka")(_kafka_url)
    # Kubernetes log files followed: pod selectors (default: ztunnel, Envoy Gateway proxies,
    # waypoints)
    include: tuple[PodSelector, ...] = Field(default_factory=lambda: tuple(_default_include()))
    # Kubernetes log files skipped even when included
    exclude: tuple[PodSelector, ...] = ()
    # how often idle files are polled and globs re-evaluated: bounds the latency added by
    # reading (data is handed on as soon as it is read)
    poll_interval_s: float = Field(default=0.25, gt=0, le=10)
    # bytes read (and decoded) per file at once: large reads amortise the decoder's per-call
    # cost; memory is bounded by queue_max_batches x this
    read_chunk_bytes: int = Field(default=4 << 20, ge=4096)
    # how long a deleted file is still read through its open handle when it stops growing
    deleted_grace_s: float = Field(default=1.0, ge=0)


class ParseConfig(BaseModel):
    """Options handed to the parsers (``parsers.ParseOptions``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # lines longer than this are counted and skipped, never buffered whole
    max_line_bytes: int = Field(default=1 << 20, ge=1024)
    # custom Envoy access-log format strings (%START_TIME% ...), tried before the built-in
    # formats
    envoy_text_formats: tuple[str, ...] = ()


class DaemonConfig(BaseModel):
    """Batching, checkpointing, shutdown and health of `logwatch run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # a micro-batch is cut at this many bytes ...
    batch_max_bytes: int = Field(default=8 << 20, ge=4096)
    # ... or this many lines, whichever comes first
    batch_max_lines: int = Field(default=50_000, ge=1)
    # chunks read ahead of processing; a full queue stops reading (backpressure)
    queue_max_batches: int = Field(default=4, ge=1)
    # flush the pipeline and write a checkpoint this often (at most this much is re-read after a
    # crash)
    checkpoint_interval_s: float = Field(default=1.0, gt=0, le=3600)
    # Event time may lag the newest record by this much before windows close: Envoy stamps
    # a request's start but logs it at its end, so slow requests arrive late. Records later
    # than this still count (in later windows); a larger value only delays alerts.
    allowed_lateness_s: float = Field(default=0.5, ge=0, le=300)
    # how often event time is pushed on by the wall clock while input is quiet, so alerts
    # resolve and groups flush without new lines
    tick_interval_s: float = Field(default=0.25, gt=0, le=60)
    # SIGTERM: drain, flush and checkpoint within this time, else exit 1 without a checkpoint
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # HOST:PORT of /healthz and /readyz (0.0.0.0:8686 in a pod)
    health_listen: str = "127.0.0.1:8686"
    # /readyz fails when the last checkpoint is older than this
    ready_max_checkpoint_age_s: float = Field(default=60.0, gt=0)
    # the daemon's own JSON log level: DEBUG, INFO, WARNING, ERROR
    log_level: str = "INFO"

    @field_validator("health_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level


class SinksConfig(BaseModel):
    """Where processed records are written besides the pipeline (debugging, tests)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # NDJSON file of processed records (public keys, as `logwatch parse` prints them)
    file: str | None = None
    # collector mode: publish every record to this kafka://BOOTSTRAP/TOPIC URL
    kafka: str | None = None

    _check_kafka = field_validator("kafka")(_kafka_url)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # checkpoints, alert state, silences and the notification outbox
    state_dir: str = "/var/lib/logwatch"
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    parse: ParseConfig = Field(default_factory=ParseConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    sinks: SinksConfig = Field(default_factory=SinksConfig)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    notifiers: NotifiersConfig = Field(default_factory=NotifiersConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port); port 0 picks a free port."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port_text)


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the Config from the YAML file, then ``LOGWATCH_*`` variables of ``env``, then
    ``overrides`` (dotted keys, from command-line flags; ``None`` values are ignored).

    Raises ConfigError (never a bare pydantic or YAML error) on any problem.
    """
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    if path is not None:
        _merge_layer(merged, origins, _read_yaml(Path(path)), str(path), ())
    for name, raw in sorted((env or {}).items()):
        if not name.upper().startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX):
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        _set_path(merged, origins, keys, _env_value(raw), f"env {name}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(merged, origins, tuple(dotted.split(".")), value, "flag")
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins, str(path) if path else "defaults")) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return document


def _env_value(raw: str) -> Any:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    # a plain word that YAML reads as a mapping or null is meant literally
    return raw if value is None or isinstance(value, dict) else value


def _merge_layer(
    target: dict[str, Any],
    origins: dict[tuple[str, ...], str],
    layer: Mapping[str, Any],
    origin: str,
    prefix: tuple[str, ...],
) -> None:
    for key, value in layer.items():
        keys = (*prefix, str(key))
        if isinstance(value, Mapping):
            _merge_layer(target, origins, value, origin, keys)
            if not value:
                _set_path(target, origins, keys, {}, origin)
        else:
            _set_path(target, origins, keys, value, origin)


def _set_path(
    target: dict[str, Any],
    origins: dict[tuple[str, ...], str],
    keys: tuple[str, ...],
    value: Any,
    origin: str,
) -> None:
    node = target
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
            origins.setdefault(keys[: depth + 1], origin)
        node = child
    node[keys[-1]] = value
    origins[keys] = origin


def _describe(exc: ValidationError, origins: Mapping[tuple[str, ...], str], fallback: str) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        origin = fallback
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in origins:
                origin = origins[loc[:cut]]
                break
        lines.append(f"{origin}:{'.'.join(loc)}: {error['msg']}")
    return "\n".join(lines)
