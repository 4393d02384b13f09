"""Per-minute chart data from the report's series, and its drawing as inline SVG.

Chart data is dense: one value per minute from the first to the last minute of the input,
zeros included, so a quiet minute is visible as zero. Each chart shows its ``TOP_SERIES``
largest series by total; the rest are summed into one ``(other)`` series, so totals are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

import polars as pl

TOP_SERIES = 8
OTHER = "(other)"
NO_NAME = "(none)"
_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    chart_id: str
    title: str
    series: tuple[Series, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.chart_id,
            "title": self.title,
            "series": [{"name": s.name, "values": list(s.values)} for s in self.series],
        }


def minute_axis(*frames: pl.DataFrame) -> list[datetime]:
    """Every minute from the earliest to the latest minute present in ``frames``."""
    minutes = [m for f in frames if f.height for m in (f["minute"].min(), f["minute"].max())]
    starts = [m for m in minutes if isinstance(m, datetime)]
    if not starts:
        return []
    axis = pl.datetime_range(min(starts), max(starts), "1m", eager=True, time_zone="UTC")
    return list(axis)


def build_chart(
    chart_id: str, title: str, frame: pl.DataFrame, key: str, value: str, axis: list[datetime]
) -> Chart:
    """One chart: ``value`` per minute for each ``key`` of ``frame`` (minute, key, value...)."""
    if not axis:
        return Chart(chart_id, title, ())
    named = frame.select(
        "minute", pl.col(key).fill_null(NO_NAME).alias("name"), pl.col(value).alias("value")
    ).filter(pl.col("value") > 0)
    totals = (
        named.group_by("name")
        .agg(pl.col("value").sum())
        .sort(["value", "name"], descending=[True, False])
    )
    top = totals["name"].head(TOP_SERIES).to_list()
    named = named.with_columns(
        name=pl.when(pl.col("name").is_in(top)).then(pl.col("name")).otherwise(pl.lit(OTHER))
    )
    grid = pl.DataFrame({"minute": axis}, schema={"minute": pl.Datetime("us", "UTC")})
    series = []
    for name in [*top, *([OTHER] if totals.height > TOP_SERIES else [])]:
        per_minute = (
            named.filter(pl.col("name") == name).group_by("minute").agg(pl.col("value").sum())
        )
        dense = grid.join(per_minute, on="minute", how="left").sort("minute")
        series.append(Series(name, tuple(int(v or 0) for v in dense["value"])))
    return Chart(chart_id, title, tuple(series))


def render_svg(chart: Chart, axis: list[datetime], width: int = 900, height: int = 240) -> str:
    """A line chart with a time axis, a value axis from 0 to the maximum, and a legend."""
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(s.values) for s in chart.series if s.values), default=0) or 1
    steps = max(len(axis) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / steps

    def y(v: int) -> float:
        return top + plot_h * (1 - v / peak)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(chart.title)}" data-chart="{escape(chart.chart_id)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    if axis:
        first, last = axis[0].strftime("%H:%M"), axis[-1].strftime("%H:%M")
        parts.append(f'<text x="{left}" y="{height - 8}" font-size="11">{first}</text>')
        parts.append(
            f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" font-size="11">{last}</text>'
        )
    for index, series in enumerate(chart.series):
        color = _PALETTE[index % len(_PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series.values))
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}">'
            f"<title>{escape(series.name)}</title></polyline>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{_PALETTE[i % len(_PALETTE)]}"></i>'
        f"{escape(s.name)} ({sum(s.values)})</span>"
        for i, s in enumerate(chart.series)
    )
    return "".join(parts) + f'<div class="legend">{legend or "no events"}</div>'
