"""A rule turned into what the engine evaluates: polars expressions and integer timings.

Times inside the engine are integers, microseconds since the Unix epoch (event time). A
rule's counters live in buckets of ``step_us``, keyed by the bucket's *end*; the window at
time ``T`` holds the buckets with ``T - window < end <= T``. So a bucket changes a rule's
condition only at ``end + offset`` for the offsets of its kind, which is all the engine
needs to evaluate at (no per-second polling, exact in event time at bucket resolution).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rules.durations import format_duration, to_micros
from rules.model import (
    SCHEMAS,
    AbsenceRule,
    AnyRule,
    NewValueRule,
    RatioRule,
    SpikeRule,
    ThresholdRule,
)
from rules.selectors import compile_selector
from rules.template import Template

SAMPLE_FIELDS: tuple[str, ...] = ("request_id", "role", "pod", "namespace", "file")


@dataclass(frozen=True)
class CompiledRule:
    rule: AnyRule
    population: pl.Expr  # records the rule counts (ratio: the denominator)
    matching: pl.Expr | None  # ratio numerator; None: every population record matches
    label_exprs: tuple[pl.Expr, ...]
    label_names: tuple[str, ...]
    static_labels: dict[str, str]
    step_us: int
    window_us: int
    for_us: int
    quiet_us: int
    offsets: tuple[int, ...]  # when a bucket can change the condition, after its end
    templates: dict[str, Template]

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def horizon_us(self) -> int:
        """How long after its end a bucket still matters."""
        return max(self.offsets)

    def aggregation(self, records: pl.LazyFrame, source: str) -> pl.LazyFrame:
        """Per (labels, bucket end): ``_m`` matched and ``_t`` total weight, and for record
        rules without a separate ``matching`` selector one sample record (``_s_<field>``)."""
        end = ((pl.col("ts").dt.epoch("us") // self.step_us) + 1) * self.step_us
        weight = pl.col("count") if source == "malformed" else pl.lit(1, dtype=pl.Int64)
        matched = (
            weight if self.matching is None else pl.when(self.matching).then(weight).otherwise(0)
        )
        with_samples = source == "records" and self.matching is None
        labelled = records.filter(self.population).select(
            *self.label_exprs,
            end.alias("_e"),
            weight.alias("_w"),
            matched.alias("_mw"),
            *(SAMPLE_FIELDS if with_samples else ()),
        )
        aggs = [
            pl.col("_mw").sum().cast(pl.Int64).alias("_m"),
            pl.col("_w").sum().cast(pl.Int64).alias("_t"),
        ]
        if with_samples:
            aggs.extend(pl.col(f).drop_nulls().first().alias(f"_s_{f}") for f in SAMPLE_FIELDS)
        return labelled.group_by([*self.label_names_internal(), "_e"]).agg(aggs)

    def counts(self, records: pl.LazyFrame, source: str) -> pl.LazyFrame:
        """``aggregation`` without the sample columns, sorted by labels and bucket end: the
        per-batch query of the engine, which asks ``samples`` separately and only while a
        group still lacks one (picking first non-null strings per group costs more than
        the counting itself)."""
        if source == "malformed":
            total = pl.col("count").sum()
            matched = (
                total if self.matching is None else pl.col("count").filter(self.matching).sum()
            )
        else:
            total = pl.len()
            matched = total if self.matching is None else self.matching.sum()
        end = ((pl.col("ts").dt.epoch("us") // self.step_us) + 1) * self.step_us
        return (
            records.filter(self.population)
            .group_by([*self.label_exprs, end.alias("_e")])
            .agg(matched.cast(pl.Int64).alias("_m"), total.cast(pl.Int64).alias("_t"))
            .sort([*self.label_names_internal(), "_e"])
        )

    def samples(self, records: pl.LazyFrame) -> pl.LazyFrame:
        """Per label values, one matching record (first non-null of each sample field)."""
        selected = self.population if self.matching is None else self.population & self.matching
        return (
            records.filter(selected)
            .select(*self.label_exprs, *SAMPLE_FIELDS)
            .group_by(self.label_names_internal())
            .agg(pl.col(f).drop_nulls().first().alias(f"_s_{f}") for f in SAMPLE_FIELDS)
        )

    def label_names_internal(self) -> list[str]:
        return [f"_l{i}" for i in range(len(self.label_exprs))]

    def threshold_text(self) -> str:
        return self.rule.threshold_text()

    def window_text(self) -> str:
        return format_duration(self.rule.window)


def compile_rule(rule: AnyRule) -> CompiledRule:
    schema = SCHEMAS[rule.source]
    population = compile_selector(rule.where, schema) & pl.col("ts").is_not_null()
    matching = compile_selector(rule.matching, schema) if isinstance(rule, RatioRule) else None
    label_exprs = []
    for i, group in enumerate(rule.group_by):
        col = pl.col(group.field).cast(pl.String)
        if group.map is not None:
            default = (
                group.default if group.default is not None else pl.col(group.field).cast(pl.String)
            )
            col = col.replace_strict(group.map, default=default, return_dtype=pl.String)
        elif group.default is not None:
            col = col.fill_null(group.default)
        label_exprs.append(col.fill_null("").alias(f"_l{i}"))
    step = to_micros(rule.step())
    window = max(step, (to_micros(rule.window) // step) * step)
    offsets: tuple[int, ...] = (0, window)
    if isinstance(rule, SpikeRule):
        offsets = (0, window, window + to_micros(rule.baseline))
    assert isinstance(rule, ThresholdRule | RatioRule | AbsenceRule | SpikeRule | NewValueRule)
    return CompiledRule(
        rule=rule,
        population=population,
        matching=matching,
        label_exprs=tuple(label_exprs),
        label_names=tuple(g.label for g in rule.group_by),
        static_labels=dict(rule.labels),
        step_us=step,
        window_us=window,
        for_us=to_micros(rule.for_),
        quiet_us=to_micros(rule.quiet_period()),
        offsets=offsets,
        templates=rule.templates(),
    )
