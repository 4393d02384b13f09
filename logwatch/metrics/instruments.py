"""Every metric logwatch exports, in one table (``METRICS``), and the synchronous instruments
the record stage writes to.

Names follow the OpenTelemetry conventions (dotted, lower case, unit in metadata, ``logwatch.*``
where semantic conventions have nothing). The Prometheus exporter turns ``logwatch.requests``
with unit ``{request}`` into ``logwatch_requests_total`` and ``logwatch.request.duration`` with
unit ``s`` into ``logwatch_request_duration_seconds_{bucket,sum,count}``;
:attr:`MetricSpec.prometheus_names` spells those out and the tests compare them with a real
scrape. Attribute keys are the allow-list: nothing else is ever attached (see views.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from opentelemetry.metrics import Counter, Meter

InstrumentKind = Literal["counter", "histogram", "observable_counter", "observable_gauge"]

# Attribute keys (the Prometheus label is the same with dots as underscores).
ROLE = "role"
ROUTE = "route"
UPSTREAM_CLUSTER = "upstream_cluster"
STATUS_CLASS = "status_class"
RESPONSE_FLAGS = "response_flags"
SCOPE = "scope"
DIRECTION = "direction"
NAMESPACE = "namespace"
WORKLOAD = "workload"
ERROR_CLASS = "error_class"
IO_DIRECTION = "network.io.direction"
JOIN_KIND = "kind"
SIGNAL = "signal"
REASON = "reason"
SOURCE = "source"
NOTIFIER = "notifier"
ATTRIBUTE = "attribute"

# Semantic-convention buckets of http.server.request.duration, in seconds.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    kind: InstrumentKind
    unit: str
    attributes: tuple[str, ...]
    description: str

    @property
    def prometheus_base(self) -> str:
        """The family name in the Prometheus exposition (before ``_total``/``_bucket``)."""
        base = re.sub(r"[^a-zA-Z0-9:]+", "_", self.name)
        suffix = _PROMETHEUS_UNITS.get(self.unit, "")
        if self.unit.startswith("{") or self.unit == "1":
            suffix = ""
        if suffix and not base.endswith("_" + suffix):
            base = f"{base}_{suffix}"
        return base

    @property
    def prometheus_names(self) -> tuple[str, ...]:
        """The sample names a scrape shows for this metric."""
        base = self.prometheus_base
        if self.kind in ("counter", "observable_counter"):
            return (f"{base}_total",)
        if self.kind == "histogram":
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (base,)

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        return tuple(re.sub(r"[^a-zA-Z0-9]+", "_", key) for key in self.attributes)


_PROMETHEUS_UNITS = {"s": "seconds", "By": "bytes", "ms": "milliseconds"}

REQUESTS = MetricSpec(
    "logwatch.requests", "counter", "{request}",
    (ROLE, ROUTE, UPSTREAM_CLUSTER, STATUS_CLASS, RESPONSE_FLAGS),
    "Envoy access-log records (requests) by hop role, route, upstream cluster, status class "
    "(1xx..5xx, none when no response was sent) and response flags (comma-joined, sorted).",
)  # fmt: skip
REQUEST_DURATION = MetricSpec(
    "logwatch.request.duration", "histogram", "s", (ROLE, ROUTE),
    "Envoy request duration (access-log DURATION) with the http.server.request.duration buckets.",
)  # fmt: skip
RATE_LIMITED = MetricSpec(
    "logwatch.rate_limited.requests", "counter", "{request}", (ROLE, ROUTE, SCOPE),
    "Requests refused by a rate limit (flag RL); scope is global (request_rate_limited), "
    "local (local_rate_limited) or unknown.",
)  # fmt: skip
CIRCUIT_BREAKER = MetricSpec(
    "logwatch.circuit_breaker.overflows", "counter", "{request}", (ROLE, UPSTREAM_CLUSTER),
    "Requests refused by an open circuit breaker (flag UO) by upstream cluster.",
)  # fmt: skip
ZTUNNEL_CONNECTIONS = MetricSpec(
    "logwatch.ztunnel.connections", "counter", "{connection}", (DIRECTION, NAMESPACE, WORKLOAD),
    "ztunnel connections closed (complete or failed); namespace/workload are the local side "
    "(source when outbound, destination when inbound).",
)  # fmt: skip
ZTUNNEL_IO = MetricSpec(
    "logwatch.ztunnel.io", "counter", "By", (DIRECTION, NAMESPACE, WORKLOAD, IO_DIRECTION),
    "Bytes carried by closed ztunnel connections: transmit = bytes_sent, receive = bytes_recv.",
)  # fmt: skip
ZTUNNEL_ERRORS = MetricSpec(
    "logwatch.ztunnel.errors", "counter", "{connection}",
    (DIRECTION, NAMESPACE, WORKLOAD, ERROR_CLASS),
    "ztunnel connections that ended with an error, by error class (policy_denied = denials).",
)  # fmt: skip
CORRELATION_HOPS = MetricSpec(
    "logwatch.correlation.hops", "observable_counter", "{hop}", (),
    "Envoy hops (access-log records) the correlator has finalized.",
)  # fmt: skip
CORRELATION_PATHS = MetricSpec(
    "logwatch.correlation.paths", "observable_counter", "{path}", (),
    "Request paths (hops sharing a request id or joined through ztunnel) finalized.",
)  # fmt: skip
CORRELATION_JOINS = MetricSpec(
    "logwatch.correlation.joins", "observable_counter", "{join}", (JOIN_KIND,),
    "Hops joined to another hop or a ztunnel connection, by join kind.",
)  # fmt: skip
CORRELATION_AMBIGUOUS = MetricSpec(
    "logwatch.correlation.ambiguous", "observable_counter", "{join}", (JOIN_KIND,),
    "Joins refused because more than one candidate matched, by join kind.",
)  # fmt: skip
CORRELATION_UNMATCHED = MetricSpec(
    "logwatch.correlation.unmatched", "observable_counter", "{record}", (JOIN_KIND,),
    "Hops or connections that found no partner before they expired, by kind.",
)  # fmt: skip
HOP_ADDED_LATENCY = MetricSpec(
    "logwatch.correlation.hop.added_latency", "histogram", "s", (ROLE, ROUTE),
    "Latency each Envoy hop added to its request, from finalized request paths: its duration "
    "minus the next hop's (the last hop: minus its upstream service time); below 0 counts as 0.",
)  # fmt: skip
FAILURE_ORIGINS = MetricSpec(
    "logwatch.correlation.failure_origins", "observable_counter", "{request}", (ROLE, SIGNAL),
    "Failed requests attributed to the hop (role) where the failure started, by signal.",
)  # fmt: skip
INPUT_LINES = MetricSpec(
    "logwatch.input.lines", "observable_counter", "{line}", (), "Input lines read."
)  # fmt: skip
INPUT_BYTES = MetricSpec(
    "logwatch.input.read", "observable_counter", "By", (), "Input bytes read."
)  # fmt: skip
INPUT_RECORDS = MetricSpec(
    "logwatch.input.records", "observable_counter", "{record}", (),
    "Access-log records decoded from the input.",
)  # fmt: skip
INPUT_IGNORED = MetricSpec(
    "logwatch.input.ignored", "observable_counter", "{line}", (),
    "Input lines that are not access logs (proxy's own logs, blank lines).",
)  # fmt: skip
INPUT_MALFORMED = MetricSpec(
    "logwatch.input.malformed", "observable_counter", "{line}", (REASON,),
    "Input lines that look like access logs but could not be parsed, by reason.",
)  # fmt: skip
INPUT_TOO_LONG = MetricSpec(
    "logwatch.input.too_long", "observable_counter", "{line}", (),
    "Input lines skipped because they exceed the line length limit.",
)  # fmt: skip
INPUT_ROTATIONS = MetricSpec(
    "logwatch.input.rotations", "observable_counter", "{rotation}", (),
    "Log file rotations followed.",
)  # fmt: skip
INPUT_TRUNCATIONS = MetricSpec(
    "logwatch.input.truncations", "observable_counter", "{truncation}", (),
    "Log files truncated in place while followed.",
)  # fmt: skip
INPUT_LOST = MetricSpec(
    "logwatch.input.lost", "observable_counter", "By", (),
    "Bytes that could not be read (rotated away or truncated before being read).",
)  # fmt: skip
INPUT_LAG = MetricSpec(
    "logwatch.input.lag", "observable_gauge", "By", (SOURCE,),
    "Bytes written but not yet read, per followed file or Kafka topic-partition.",
)  # fmt: skip
INPUT_FILES = MetricSpec(
    "logwatch.input.files", "observable_gauge", "{file}", (), "Files currently followed."
)  # fmt: skip
CHECKPOINT_AGE = MetricSpec(
    "logwatch.checkpoint.age", "observable_gauge", "s", (),
    "Seconds since the last durable checkpoint or offset commit (absent before the first).",
)  # fmt: skip
ALERT_DELIVERIES = MetricSpec(
    "logwatch.alert.deliveries", "observable_counter", "{notification}", (NOTIFIER,),
    "Notifications delivered, by notifier.",
)  # fmt: skip
ALERT_FAILURES = MetricSpec(
    "logwatch.alert.delivery_failures", "observable_counter", "{attempt}", (NOTIFIER,),
    "Failed notification delivery attempts (retried), by notifier.",
)  # fmt: skip
ALERT_DEAD_LETTERS = MetricSpec(
    "logwatch.alert.dead_letters", "observable_counter", "{notification}", (NOTIFIER,),
    "Notifications given up on after all retries, by notifier.",
)  # fmt: skip
FOLDED_VALUES = MetricSpec(
    "logwatch.metrics.overflowed", "observable_counter", "{value}", (ATTRIBUTE,),
    "Attribute values folded into __overflow__ because a cardinality cap was reached.",
)  # fmt: skip

METRICS: tuple[MetricSpec, ...] = (
    REQUESTS, REQUEST_DURATION, RATE_LIMITED, CIRCUIT_BREAKER,
    ZTUNNEL_CONNECTIONS, ZTUNNEL_IO, ZTUNNEL_ERRORS,
    CORRELATION_HOPS, CORRELATION_PATHS, CORRELATION_JOINS, CORRELATION_AMBIGUOUS,
    CORRELATION_UNMATCHED, HOP_ADDED_LATENCY, FAILURE_ORIGINS,
    INPUT_LINES, INPUT_BYTES, INPUT_RECORDS, INPUT_IGNORED, INPUT_MALFORMED, INPUT_TOO_LONG,
    INPUT_ROTATIONS, INPUT_TRUNCATIONS, INPUT_LOST, INPUT_LAG, INPUT_FILES, CHECKPOINT_AGE,
    ALERT_DELIVERIES, ALERT_FAILURES, ALERT_DEAD_LETTERS, FOLDED_VALUES,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecordInstruments:
    """The synchronous counters the record stage adds to (one ``add`` per attribute set).
    The duration histogram is pre-aggregated by :mod:`logwatch.metrics.histogram`."""

    requests: Counter
    rate_limited: Counter
    circuit_breaker: Counter
    ztunnel_connections: Counter
    ztunnel_io: Counter
    ztunnel_errors: Counter


def create_record_instruments(meter: Meter) -> RecordInstruments:
    def counter(spec: MetricSpec) -> Counter:
        return meter.create_counter(spec.name, unit=spec.unit, description=spec.description)

    return RecordInstruments(
        requests=counter(REQUESTS),
        rate_limited=counter(RATE_LIMITED),
        circuit_breaker=counter(CIRCUIT_BREAKER),
        ztunnel_connections=counter(ZTUNNEL_CONNECTIONS),
        ztunnel_io=counter(ZTUNNEL_IO),
        ztunnel_errors=counter(ZTUNNEL_ERRORS),
    )
