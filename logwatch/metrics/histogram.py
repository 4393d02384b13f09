"""The request-duration histogram, fed one batch at a time.

The OpenTelemetry API records a histogram one value per call; at access-log rates that per-line
call is most of the cost of metrics. So this histogram is aggregated by the record stage with
polars (bucket counts, sum, min, max per attribute set) and kept here as cumulative state; at
each collection it is handed to the exporters as an ordinary OTel ``Histogram`` metric next to
the SDK's own metrics (the "metric producer" idea of the OTel specification), so Prometheus
and OTLP see one coherent data set.

Guarantees: cumulative temporality, start time = creation of this object, explicit bounds =
``DURATION_BUCKETS_S`` (semantic-convention buckets), one data point per attribute set. The
number of attribute sets is bounded by the folding the stage applies before ``add``.
Thread-safety: ``add`` runs on the pipeline thread, ``metric`` on exporter threads; one lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from logwatch.metrics.instruments import MetricSpec

BUCKET = "bucket"


@dataclass(frozen=True, slots=True)
class DurationCell:
    """Count, sum, min and max of the values that fell into one bucket of one attribute set."""

    count: int
    total: float
    low: float
    high: float

    def merge(self, other: DurationCell) -> DurationCell:
        return DurationCell(
            self.count + other.count,
            self.total + other.total,
            min(self.low, other.low),
            max(self.high, other.high),
        )


@dataclass
class _Point:
    bucket_counts: list[int]
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")


class BatchHistogram:
    """Cumulative explicit-bucket histogram whose input is pre-aggregated cells."""

    def __init__(
        self,
        spec: MetricSpec,
        boundaries: Sequence[float],
        time_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.spec = spec
        self.boundaries = tuple(boundaries)
        self._time_ns = time_ns
        self._start_ns = time_ns()
        self._points: dict[tuple[str, ...], _Point] = {}
        self._lock = threading.Lock()

    def bucket_expr_ms(self, milliseconds: pl.Expr) -> pl.Expr:
        """Bucket index of each integer millisecond value (null for null): bucket i holds
        (bound[i-1], bound[i]], the last one everything above the highest bound (the OTel
        explicit-bucket rule). Integer comparisons: no float rounding at the bounds."""
        bounds_ms = [round(bound * 1000) for bound in self.boundaries]
        if any(
            abs(ms / 1000 - bound) > 1e-12
            for ms, bound in zip(bounds_ms, self.boundaries, strict=True)
        ):
            raise ValueError("duration bucket bounds must be whole milliseconds")
        above = [(milliseconds > ms).cast(pl.UInt8) for ms in bounds_ms]
        return pl.when(milliseconds.is_not_null()).then(pl.sum_horizontal(above))

    def add(self, cells: Mapping[tuple[tuple[str, ...], int], DurationCell]) -> None:
        """Merge cells keyed by ``(attribute values in spec order, bucket index)``."""
        empty = len(self.boundaries) + 1
        with self._lock:
            for (key, bucket), cell in cells.items():
                point = self._points.get(key)
                if point is None:
                    point = self._points[key] = _Point([0] * empty)
                point.bucket_counts[bucket] += cell.count
                point.count += cell.count
                point.total += cell.total
                point.low = min(point.low, cell.low)
                point.high = max(point.high, cell.high)

    @property
    def series(self) -> int:
        return len(self._points)

    def metric(self) -> Metric | None:
        """A snapshot as an OTel metric, or None before the first value."""
        now = self._time_ns()
        with self._lock:
            points = [
                HistogramDataPoint(
                    attributes=dict(zip(self.spec.attributes, key, strict=True)),
                    start_time_unix_nano=self._start_ns,
                    time_unix_nano=now,
                    count=point.count,
                    sum=point.total,
                    bucket_counts=tuple(point.bucket_counts),
                    explicit_bounds=self.boundaries,
                    min=point.low,
                    max=point.high,
                )
                for key, point in self._points.items()
            ]
        if not points:
            return None
        return Metric(
            name=self.spec.name,
            description=self.spec.description,
            unit=self.spec.unit,
            data=Histogram(
                data_points=points,
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            ),
        )


def with_produced(
    data: MetricsData,
    produced: Sequence[Metric],
    resource: Resource,
    scope: InstrumentationScope,
) -> MetricsData:
    """``data`` plus the produced metrics, under ``scope`` of the first resource (the one
    MeterProvider of a runtime has one resource)."""
    if not produced:
        return data
    extra = ScopeMetrics(scope=scope, metrics=list(produced), schema_url="")
    if not data.resource_metrics:
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(resource=resource, scope_metrics=[extra], schema_url="")
            ]
        )
    first, *rest = data.resource_metrics
    # Merge into the SDK's ScopeMetrics of the same scope: the OTLP encoder keys scopes by
    # identity of name/version, and a second entry for the same scope would replace the first.
    scopes = list(first.scope_metrics)
    for index, existing in enumerate(scopes):
        if existing.scope == scope:
            scopes[index] = ScopeMetrics(
                scope=existing.scope,
                metrics=[*existing.metrics, *produced],
                schema_url=existing.schema_url,
            )
            break
    else:
        scopes.append(extra)
    merged = ResourceMetrics(
        resource=first.resource, scope_metrics=scopes, schema_url=first.schema_url
    )
    return MetricsData(resource_metrics=[merged, *rest])
