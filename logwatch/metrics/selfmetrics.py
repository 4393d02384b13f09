"""Observable instruments over the daemon's own state: DaemonStats (input, checkpoints, alert
delivery), correlation results and the cardinality folders.

Nothing is recorded on the hot path: the SDK calls these callbacks at collection time (each
scrape, each OTLP export), on the exporter's thread. The counters they read are mutated on the
event loop thread; each callback copies a mapping in one C-level ``dict(...)`` call (atomic
under the GIL) and reads from the copy, so a reader sees a slightly stale, consistent-enough
view and never an "iteration changed size" error.

Correlation: the correlator keeps its running totals in a
:class:`logwatch.correlate.stats.CorrelationStats`; plug it in with
:meth:`SelfMetrics.observe_correlation`. Until then the correlation metrics have no points.
Failure origins are exported by role and signal, never by pod (pods churn).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from logwatch.clock import Clock
from logwatch.correlate.stats import CorrelationStats
from logwatch.daemon_stats import DaemonStats
from logwatch.metrics.cardinality import OVERFLOW, BoundedValues
from logwatch.metrics.instruments import (
    ALERT_DEAD_LETTERS,
    ALERT_DELIVERIES,
    ALERT_FAILURES,
    ATTRIBUTE,
    CHECKPOINT_AGE,
    CORRELATION_AMBIGUOUS,
    CORRELATION_HOPS,
    CORRELATION_JOINS,
    CORRELATION_PATHS,
    CORRELATION_UNMATCHED,
    FAILURE_ORIGINS,
    FOLDED_VALUES,
    INPUT_BYTES,
    INPUT_FILES,
    INPUT_IGNORED,
    INPUT_LAG,
    INPUT_LINES,
    INPUT_LOST,
    INPUT_MALFORMED,
    INPUT_RECORDS,
    INPUT_ROTATIONS,
    INPUT_TOO_LONG,
    INPUT_TRUNCATIONS,
    JOIN_KIND,
    NOTIFIER,
    REASON,
    ROLE,
    SIGNAL,
    SOURCE,
    MetricSpec,
)

Callback = Callable[[CallbackOptions], Iterable[Observation]]


class SelfMetrics:
    """Registers the observable instruments on ``meter``; lives as long as the meter."""

    def __init__(
        self,
        meter: Meter,
        stats: DaemonStats,
        clock: Clock,
        folders: Sequence[BoundedValues],
        max_keys: int,
    ) -> None:
        self._stats = stats
        self._clock = clock
        self._folders = tuple(folders)
        self._correlation: CorrelationStats | None = None
        self._lock = threading.Lock()
        # Keys of the daemon's own counters come from code or config (malformed reasons,
        # notifier names, join kinds): bounded already; folding keeps a bug from becoming an
        # outage. Lag sources are handled apart (see _lag).
        self._max_keys = max_keys
        self._keys = {key: BoundedValues(key, max_keys) for key in (REASON, NOTIFIER)}
        self._correlation_keys = {
            key: BoundedValues(key, max_keys) for key in (JOIN_KIND, ROLE, SIGNAL)
        }

        def scalar(read: Callable[[DaemonStats], float]) -> Callback:
            return lambda _options: [Observation(read(self._stats))]

        counters: list[tuple[MetricSpec, Callback]] = [
            (INPUT_LINES, scalar(lambda s: s.lines)),
            (INPUT_BYTES, scalar(lambda s: s.bytes)),
            (INPUT_RECORDS, scalar(lambda s: s.records)),
            (INPUT_IGNORED, scalar(lambda s: s.ignored)),
            (INPUT_TOO_LONG, scalar(lambda s: s.lines_too_long)),
            (INPUT_ROTATIONS, scalar(lambda s: s.rotations)),
            (INPUT_TRUNCATIONS, scalar(lambda s: s.truncations)),
            (INPUT_LOST, scalar(lambda s: s.lost_bytes)),
            (INPUT_MALFORMED, self._keyed(REASON, lambda s: s.malformed_by_reason)),
            (ALERT_DELIVERIES, self._keyed(NOTIFIER, lambda s: s.alert_deliveries)),
            (ALERT_FAILURES, self._keyed(NOTIFIER, lambda s: s.alert_delivery_failures)),
            (ALERT_DEAD_LETTERS, self._keyed(NOTIFIER, lambda s: s.alert_dead_letters)),
            (CORRELATION_HOPS, self._correlated_total(lambda c: c.hops)),
            (CORRELATION_PATHS, self._correlated_total(lambda c: c.paths)),
            (CORRELATION_JOINS, self._correlated(lambda c: c.joins)),
            (CORRELATION_AMBIGUOUS, self._correlated(lambda c: c.ambiguous)),
            (CORRELATION_UNMATCHED, self._correlated(lambda c: c.unmatched)),
            (FAILURE_ORIGINS, self._failure_origins),
            (FOLDED_VALUES, self._folded),
        ]
        for spec, callback in counters:
            meter.create_observable_counter(
                spec.name, callbacks=[callback], unit=spec.unit, description=spec.description
            )
        gauges: list[tuple[MetricSpec, Callback]] = [
            (INPUT_LAG, self._lag),
            (INPUT_FILES, scalar(lambda s: s.files_followed)),
            (CHECKPOINT_AGE, self._checkpoint_age),
        ]
        for spec, callback in gauges:
            meter.create_observable_gauge(
                spec.name, callbacks=[callback], unit=spec.unit, description=spec.description
            )

    def observe_correlation(self, stats: CorrelationStats) -> None:
        """Export the correlator's totals from now on (replaces any earlier source)."""
        self._correlation = stats

    def _keyed(self, key: str, read: Callable[[DaemonStats], Mapping[str, int]]) -> Callback:
        def callback(_options: CallbackOptions) -> list[Observation]:
            return self._observe(self._keys[key], dict(read(self._stats)))

        return callback

    def _correlated_total(self, read: Callable[[CorrelationStats], int]) -> Callback:
        def callback(_options: CallbackOptions) -> list[Observation]:
            stats = self._correlation
            return [] if stats is None else [Observation(read(stats))]

        return callback

    def _correlated(self, read: Callable[[CorrelationStats], Mapping[str, int]]) -> Callback:
        def callback(_options: CallbackOptions) -> list[Observation]:
            stats = self._correlation
            if stats is None:
                return []
            return self._observe(self._correlation_keys[JOIN_KIND], dict(read(stats)))

        return callback

    def _failure_origins(self, _options: CallbackOptions) -> list[Observation]:
        stats = self._correlation
        if stats is None:
            return []
        totals: dict[tuple[str, str], int] = {}
        with self._lock:
            for origin, count in dict(stats.failures_by_origin).items():
                key = (
                    self._correlation_keys[ROLE].fold(origin.role),
                    self._correlation_keys[SIGNAL].fold(origin.signal),
                )
                totals[key] = totals.get(key, 0) + count
        return [
            Observation(count, {ROLE: role, SIGNAL: signal})
            for (role, signal), count in totals.items()
        ]

    def _observe(self, folder: BoundedValues, values: dict[str, int]) -> list[Observation]:
        # Two values folded into __overflow__ must be summed, not reported twice.
        totals: dict[str, int] = {}
        with self._lock:
            for name, value in values.items():
                folded = folder.fold(name)
                totals[folded] = totals.get(folded, 0) + value
        return [Observation(value, {folder.name: name}) for name, value in totals.items()]

    def _lag(self, _options: CallbackOptions) -> list[Observation]:
        # A gauge of the present: sources come and go with pods, so instead of admitting
        # the first N forever, report the N largest now and sum the rest into __overflow__.
        lags = sorted(dict(self._stats.lag_bytes).items(), key=lambda item: -item[1])
        shown = [Observation(lag, {SOURCE: source}) for source, lag in lags[: self._max_keys]]
        rest = lags[self._max_keys :]
        if rest:
            shown.append(Observation(sum(lag for _, lag in rest), {SOURCE: OVERFLOW}))
        return shown

    def _folded(self, _options: CallbackOptions) -> list[Observation]:
        return [Observation(f.folded, {ATTRIBUTE: f.name}) for f in self._folders]

    def _checkpoint_age(self, _options: CallbackOptions) -> list[Observation]:
        last = self._stats.checkpoint_unix
        if last <= 0:
            return []
        return [Observation(max(0.0, self._clock.now().timestamp() - last))]
