"""The incidents timeline: runs of consecutive minutes with trouble on one route or in ztunnel.

A route is in trouble in a minute when it rate-limited, tripped a circuit breaker or answered
5xx; ztunnel, when connections failed with an error of a class. Consecutive trouble minutes
of the same route (or error class) form one incident; a quiet minute ends it.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from logwatch.report.model import Incident

_ONE_MINUTE = timedelta(minutes=1)


def _runs(frame: pl.DataFrame, key: str, values: tuple[str, ...]) -> pl.DataFrame:
    """Group consecutive minutes per ``key`` into runs with summed ``values``."""
    return (
        frame.sort([key, "minute"], nulls_last=True)
        .with_columns(
            run=((pl.col("minute").diff() != _ONE_MINUTE).fill_null(True)).cum_sum().over(key)
        )
        .group_by(key, "run")
        .agg(
            pl.col("minute").min().alias("start"),
            (pl.col("minute").max() + _ONE_MINUTE).alias("end"),
            *(pl.col(v).sum() for v in values),
        )
    )


def find_incidents(
    route_minutes: pl.DataFrame, ztunnel_minutes: pl.DataFrame
) -> tuple[Incident, ...]:
    """Incidents from the per-minute series, ordered by start, then scope and name."""
    trouble = ("rate_limited", "circuit_breaker", "status_5xx")
    routes = _runs(
        route_minutes.filter(pl.any_horizontal(pl.col(c) > 0 for c in trouble)),
        "route_name",
        trouble,
    )
    ztunnel = _runs(
        ztunnel_minutes.filter((pl.col("errors") > 0) & pl.col("error_class").is_not_null()),
        "error_class",
        ("errors",),
    )
    incidents = [
        Incident(
            start=row["start"],
            end=row["end"],
            scope="route",
            name=row["route_name"] if row["route_name"] is not None else "(no route)",
            rate_limited=row["rate_limited"],
            circuit_breaker=row["circuit_breaker"],
            status_5xx=row["status_5xx"],
            errors=0,
        )
        for row in routes.iter_rows(named=True)
    ]
    incidents += [
        Incident(
            start=row["start"],
            end=row["end"],
            scope="ztunnel",
            name=row["error_class"],
            rate_limited=0,
            circuit_breaker=0,
            status_5xx=0,
            errors=row["errors"],
        )
        for row in ztunnel.iter_rows(named=True)
    ]
    return tuple(sorted(incidents, key=lambda i: (i.start, i.scope, i.name)))
