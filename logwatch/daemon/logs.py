"""The daemon's own logs: one JSON object per line on stderr (stdlib logging + orjson).

Keys: ``ts`` (RFC 3339 UTC), ``level``, ``logger``, ``msg``, then any ``extra={...}`` fields
given at the call site, and ``exc`` with the traceback when there is one.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

# attributes every LogRecord has; anything else came from ``extra``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


def configure_logging(level: str) -> None:
    """Send every ``logwatch`` logger to stderr as JSON at ``level`` (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_logwatch_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._logwatch_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
