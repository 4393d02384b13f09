"""``--sink kafka://BOOTSTRAP/TOPIC``: the collector role's record publisher (a RecordStage,
see logwatch.kafka.producer)."""

from __future__ import annotations

from logwatch.kafka.producer import KafkaRecordSink, PublishError
from logwatch.kafka.topology import collector_sink
from logwatch.kafka.url import is_kafka_url

__all__ = ["KafkaRecordSink", "PublishError", "collector_sink", "is_kafka_url"]
