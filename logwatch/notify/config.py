"""Configuration of logwatch.notify, validated once at load (see logwatch.config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NotifiersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
