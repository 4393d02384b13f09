"""The daemon's own health counters, kept in one place so the metrics exporter can read them.

Writers: the sources (tailer, Kafka), the pipeline and the notifiers. Reader: the metrics
package exports these as ``logwatch.*`` instruments through observable callbacks. All
mutation happens on the event loop thread; readers tolerate a slightly stale view.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class DaemonStats:
    lines: int = 0
    bytes: int = 0
    records: int = 0
    ignored: int = 0
    malformed_by_reason: Counter[str] = field(default_factory=Counter)
    lines_too_long: int = 0
    rotations: int = 0
    truncations: int = 0
    lost_bytes: int = 0
    # bytes not yet read, per followed file path (tailer) or per topic-partition (Kafka)
    lag_bytes: dict[str, int] = field(default_factory=dict)
    files_followed: int = 0
    checkpoint_unix: float = 0.0  # wall time of the last durable checkpoint / commit
    alert_deliveries: Counter[str] = field(default_factory=Counter)  # by notifier
    alert_delivery_failures: Counter[str] = field(default_factory=Counter)  # by notifier
    alert_dead_letters: Counter[str] = field(default_factory=Counter)  # by notifier
