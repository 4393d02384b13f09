"""OpenTelemetry Views: the attribute allow-list and the per-stream series cap, enforced by
the SDK itself.

The record stage already attaches only allow-listed attributes; these views make that a
property of the meter provider rather than of one caller: an attribute outside the list is
dropped by the SDK (its values are merged), and a stream that would exceed
``max_series_per_metric`` points folds the excess into the SDK's overflow point
(``otel.metric.overflow=true``). Neither should ever trigger in practice: the stage's folding
caps are far smaller; the views are the second line of defence.
"""

from __future__ import annotations

from opentelemetry.sdk.metrics.view import View

from logwatch.metrics.instruments import METRICS


def allow_list_views(max_series_per_metric: int) -> list[View]:
    """One view per SDK instrument in METRICS (the histogram is produced outside the SDK)."""
    return [
        View(
            instrument_name=spec.name,
            attribute_keys=set(spec.attributes),
            aggregation_cardinality_limit=max_series_per_metric,
        )
        for spec in METRICS
        if spec.kind != "histogram"
    ]
