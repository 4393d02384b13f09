"""The one config loader: file (--config, YAML), then LOGWATCH_* environment, then flags.

Validated once at start; everything after receives these typed, frozen objects. Each package
owns the model of its own section (``logwatch.<package>.config``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logwatch.alerts.config import AlertsConfig
from logwatch.correlate.config import CorrelationConfig
from logwatch.kafka.config import KafkaConfig
from logwatch.metrics.config import MetricsConfig
from logwatch.notify.config import NotifiersConfig


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: str = "/var/lib/logwatch"
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    notifiers: NotifiersConfig = Field(default_factory=NotifiersConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
