"""The two Kafka roles of `logwatch run`, assembled: collector sink and analyzer.

* **collector** (``--sink kafka://B/T``): the normal node pipeline plus one more stage,
  :func:`collector_sink`, publishing every record to the records topic.
* **analyzer** (``--source kafka://B/T?group=G``): :func:`run_analyzer` consumes the
  records topic in group ``G`` and runs correlation and metrics stages on it; alerting is
  partitioned (see :mod:`logwatch.kafka.signals`): a :class:`SignalPublisher` replaces the
  alert stage in the records pipeline, and the alert stage runs behind a second consumer,
  group ``G-alerts``, on the signals topic.

Shutdown: both consumers stop when ``stop`` is set, each checkpoints (flush, then commit)
and leaves its group; the signal publisher closes last. A crash skips all of that and is
covered by at-least-once delivery (see :mod:`logwatch.kafka.consumer`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from logwatch.clock import Clock, WallClock
from logwatch.daemon_stats import DaemonStats
from logwatch.kafka.client import Endpoint
from logwatch.kafka.config import KafkaConfig
from logwatch.kafka.consumer import KafkaSource
from logwatch.kafka.producer import KafkaRecordSink
from logwatch.kafka.signals import AggregateStage, SignalDecoder, SignalPublisher, SignalsDriver
from logwatch.kafka.url import parse_kafka_url
from logwatch.pipeline.pipeline import Pipeline
from logwatch.pipeline.stages import RecordStage
from parsers.options import ParseOptions
from rules.model import AnyRule


def collector_sink(kafka: KafkaConfig, url: str) -> KafkaRecordSink:
    """The stage that publishes records to ``url`` (raises KafkaUrlError on a bad URL and
    KafkaError when the cluster cannot be reached). Close it after the pipeline."""
    return KafkaRecordSink(Endpoint(kafka, parse_kafka_url(url)))


async def run_analyzer(
    kafka: KafkaConfig,
    url: str,
    *,
    stages: Sequence[RecordStage],
    alerts: AggregateStage | None,
    rules: Sequence[AnyRule],
    stop: asyncio.Event,
    clock: Clock | None = None,
    stats: DaemonStats | None = None,
    parse_options: ParseOptions | None = None,
    allowed_lateness: timedelta = timedelta(seconds=5),
    analyzer_id: str | None = None,
) -> None:
    """Consume ``url`` until ``stop``: records through ``stages`` (correlation, metrics,
    sinks; not the alert stage), rule aggregates to the signals topic, and, when ``alerts``
    is given, the alert decisions for the signal partitions this process owns."""
    clock = clock or WallClock()
    records_url = parse_kafka_url(url)
    signals_url = replace(
        records_url, topic=kafka.signals_topic, group=f"{records_url.group}-alerts"
    )
    identity = analyzer_id or f"{socket.gethostname()}-{id(stop):x}"
    publisher = SignalPublisher(Endpoint(kafka, signals_url), rules, identity)
    try:
        pipeline = Pipeline(
            [*stages, publisher], clock=clock, allowed_lateness=allowed_lateness, daemon_stats=stats
        )
        # the sources pace commits by wall time even when event time is driven (replays)
        records = KafkaSource(
            Endpoint(kafka, records_url), stats=stats, parse_options=parse_options
        )
        runs = [records.run(pipeline, stop)]
        if alerts is not None:
            signals = KafkaSource(Endpoint(kafka, signals_url), reader=SignalDecoder)
            runs.append(signals.run(SignalsDriver(alerts), stop))
        await asyncio.gather(*runs)
    finally:
        publisher.close()
