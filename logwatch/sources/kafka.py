"""``--source kafka://BOOTSTRAP/TOPIC?group=G``: the analyzer role (see logwatch.kafka).

The Kafka source drives the pipeline itself (it owns offsets and commits them after the
pipeline's flush), so the daemon hands it the stages instead of feeding a queue.
"""

from __future__ import annotations

from logwatch.kafka.topology import run_analyzer
from logwatch.kafka.url import KafkaUrlError, is_kafka_url, parse_kafka_url

__all__ = ["KafkaUrlError", "is_kafka_url", "parse_kafka_url", "run_analyzer"]
