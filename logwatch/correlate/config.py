"""Configuration of logwatch.correlate, validated once at load (see logwatch.config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CorrelationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
