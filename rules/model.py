"""The rule model: what a rule file may say, validated once at load.

A rule file is YAML with a top-level ``rules:`` list. Every rule has a ``name``, a ``kind``
(``threshold``, ``ratio``, ``absence``, ``spike``, ``new_value``), a selector ``where`` (see
``rules.selectors``), ``group_by`` labels, a ``window`` and the lifecycle timings ``for``
and ``resolve_after``, a ``severity``, static ``labels`` and ``annotations`` (safe templates,
see ``rules.template``). Kind-specific fields are documented on each model.

Failure mode: :func:`load_rules` raises :class:`RuleError` whose message names the source
(file), the rule and the offending field, one line per problem; nothing is half-loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import polars as pl
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from parsers.record import RECORD_SCHEMA
from rules.durations import format_duration, parse_duration
from rules.selectors import Condition, compile_selector, parse_condition
from rules.template import Template, parse_template

Severity = Literal["critical", "warning", "info"]
Source = Literal["records", "malformed"]

# The synthetic stream of parse rejections, fed by the pipeline (see rules/pack/README.md):
# one row per (file, reason) and time bucket, with how many lines were rejected.
MALFORMED_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "file": pl.String(),
    "reason": pl.String(),
    "count": pl.Int64(),
}


def malformed_frame(counts: Mapping[tuple[str, str], int], at: datetime) -> pl.DataFrame:
    """Rows of the ``malformed`` source: ``counts`` of rejected lines by (file, reason),
    stamped with ``at`` (the latest event time seen, or the wall clock when there is none)."""
    rows = [(at, file, reason, n) for (file, reason), n in counts.items() if n > 0]
    return pl.DataFrame(rows, schema=MALFORMED_SCHEMA, orient="row")


SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "records": RECORD_SCHEMA,
    "malformed": MALFORMED_SCHEMA,
}


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _selector(value: Any) -> dict[str, Condition]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("a selector is a mapping of field -> condition")
    return {str(k): parse_condition(v) for k, v in value.items()}


Selector = Annotated[dict[str, Condition], BeforeValidator(_selector)]


class RuleError(ValueError):
    """A rule file cannot be used; one line per problem: ``source: rule 'name': field: msg``."""


class GroupLabel(BaseModel):
    """One alert label taken from a record field, optionally mapped through a table.

    ``{label: scope, field: response_code_details, map: {request_rate_limited: global},
    default: other}``; a bare string ``route_name`` means ``{label: route_name, field:
    route_name}``. A null field gives the empty string (the label is then left out).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    field: str
    map: dict[str, str] | None = None
    default: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"label": value, "field": value}
        if isinstance(value, Mapping) and "label" in value and "field" not in value:
            return {**value, "field": value["label"]}
        return value


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=120)
    description: str = ""
    enabled: bool = True
    source: Source = "records"
    where: Selector = Field(default_factory=dict)
    group_by: tuple[GroupLabel, ...] = ()
    window: Duration = timedelta(minutes=1)
    for_: Duration = Field(default=timedelta(0), alias="for")
    # how long the condition must stay false before the alert resolves (default: window)
    resolve_after: Duration | None = None
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # time bucket size of the rule's counters (default: window / 60, at least 1 s)
    resolution: Duration | None = None
    max_groups: int = Field(default=1000, ge=1, le=1_000_000)

    @field_validator("window")
    @classmethod
    def _positive_window(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("window must be at least 1s")
        return value

    @model_validator(mode="after")
    def _check(self) -> _RuleBase:
        schema = SCHEMAS[self.source]
        compile_selector(self.where, schema)
        for label in self.group_by:
            if label.field not in schema:
                raise ValueError(f"group_by: unknown field {label.field!r}")
            if isinstance(schema[label.field], pl.List):
                raise ValueError(f"group_by: {label.field!r} is a list field; group by a scalar")
        names = self.label_names()
        for key, text in self.annotations.items():
            try:
                parse_template(text, names)
            except ValueError as exc:
                raise ValueError(f"annotations.{key}: {exc}") from None
        return self

    def label_names(self) -> list[str]:
        return ["alertname", "severity", *self.labels, *(g.label for g in self.group_by)]

    def templates(self) -> dict[str, Template]:
        return {k: parse_template(v, self.label_names()) for k, v in self.annotations.items()}

    def quiet_period(self) -> timedelta:
        return self.resolve_after if self.resolve_after is not None else self.window

    def step(self) -> timedelta:
        """Bucket size: ``resolution`` or window/60 rounded down to whole seconds (>= 1 s)."""
        if self.resolution is not None:
            return max(self.resolution, timedelta(seconds=1))
        return max(timedelta(seconds=int(self.window.total_seconds() // 60)), timedelta(seconds=1))

    def threshold_text(self) -> str:
        return ""

    def summary(self) -> str:
        """One line for `logwatch rules check`."""
        by = ",".join(g.label for g in self.group_by) or "-"
        extra = f" for {format_duration(self.for_)}" if self.for_ else ""
        return (
            f"{self.kind_name()} {self.threshold_text()} in {format_duration(self.window)} "
            f"by {by}{extra}, resolve after {format_duration(self.quiet_period())} quiet "
            f"[{self.severity}]"
        )

    def kind_name(self) -> str:
        raise NotImplementedError


class ThresholdRule(_RuleBase):
    """Fires when at least ``threshold`` matching records fall in the sliding window."""

    kind: Literal["threshold"]
    threshold: int = Field(ge=1)

    def kind_name(self) -> str:
        return "threshold"

    def threshold_text(self) -> str:
        return f">= {self.threshold} records"


class RatioRule(_RuleBase):
    """Fires when ``matching``/``where`` >= ``ratio`` over the window, given >= ``min_total``
    records of ``where`` (so three requests with one error do not page anyone)."""

    kind: Literal["ratio"]
    matching: Selector
    ratio: float = Field(gt=0, le=1)
    min_total: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _check_matching(self) -> RatioRule:
        compile_selector(self.matching, SCHEMAS[self.source])
        return self

    def kind_name(self) -> str:
        return "ratio"

    def threshold_text(self) -> str:
        return f">= {self.ratio:g} of >= {self.min_total} records"


class AbsenceRule(_RuleBase):
    """Fires when a group that has been seen sends nothing matching for a whole window.

    Groups are learned from the records themselves; a group silent for ``forget_after`` is
    forgotten (an alert still firing for it is then resolved).
    """

    kind: Literal["absence"]
    forget_after: Duration = timedelta(hours=24)

    def kind_name(self) -> str:
        return "absence"

    def threshold_text(self) -> str:
        return "no records"


class SpikeRule(_RuleBase):
    """Fires when the window's count is >= ``factor`` times the average count per window over
    the preceding ``baseline`` period, with >= ``min_events`` records; a group needs one full
    baseline of history first. ``min_baseline`` floors the baseline (per window)."""

    kind: Literal["spike"]
    factor: float = Field(gt=1)
    baseline: Duration = timedelta(minutes=30)
    min_events: int = Field(default=10, ge=1)
    min_baseline: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _baseline_longer(self) -> SpikeRule:
        if self.baseline < self.window:
            raise ValueError("baseline must be at least one window long")
        return self

    def kind_name(self) -> str:
        return "spike"

    def threshold_text(self) -> str:
        return f">= {self.factor:g}x baseline {format_duration(self.baseline)}"


class NewValueRule(_RuleBase):
    """Fires when a ``group_by`` value never seen before matches (after ``learning_period``
    from the first record the engine saw, during which values are only learned). The alert
    lasts one window. At most ``max_known`` values are remembered (oldest forgotten first)."""

    kind: Literal["new_value"]
    learning_period: Duration = timedelta(hours=1)
    max_known: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _needs_labels(self) -> NewValueRule:
        if not self.group_by:
            raise ValueError("new_value needs group_by: the value that is new")
        return self

    def kind_name(self) -> str:
        return "new_value"

    def threshold_text(self) -> str:
        return "first appearance"


Rule = Annotated[
    ThresholdRule | RatioRule | AbsenceRule | SpikeRule | NewValueRule,
    Field(discriminator="kind"),
]
AnyRule = ThresholdRule | RatioRule | AbsenceRule | SpikeRule | NewValueRule
_RULE_ADAPTER: TypeAdapter[AnyRule] = TypeAdapter(Rule)


def load_rules(text: str, source: str = "<rules>") -> list[AnyRule]:
    """Parse one rule file's YAML text. Raises RuleError naming ``source`` and each rule."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{source}: not valid YAML: {exc}") from None
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) - {"rules"}:
        raise RuleError(f"{source}: expected a mapping with one key 'rules' (a list of rules)")
    raw_rules = document.get("rules") or []
    if not isinstance(raw_rules, list):
        raise RuleError(f"{source}: 'rules' must be a list")
    problems: list[str] = []
    loaded: list[AnyRule] = []
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"{source}: rule {name!r}" if name else f"{source}: rule #{index + 1}"
        try:
            loaded.append(_RULE_ADAPTER.validate_python(raw))
        except ValidationError as exc:
            problems.extend(f"{where}: {_describe(err)}" for err in exc.errors())
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    problems.extend(_duplicates(loaded, source))
    if problems:
        raise RuleError("\n".join(problems))
    return loaded


def merge_rule_sets(sets: Iterable[tuple[str, list[AnyRule]]]) -> list[AnyRule]:
    """Concatenate rules of several files; RuleError if a name is defined twice."""
    seen: dict[str, str] = {}
    out: list[AnyRule] = []
    problems = []
    for source, rules in sets:
        for rule in rules:
            if rule.name in seen:
                problems.append(
                    f"{source}: rule {rule.name!r}: already defined in {seen[rule.name]}"
                )
            seen.setdefault(rule.name, source)
            out.append(rule)
    if problems:
        raise RuleError("\n".join(problems))
    return out


def _duplicates(rules: list[AnyRule], source: str) -> list[str]:
    names = [r.name for r in rules]
    return [
        f"{source}: rule {n!r}: defined twice"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]


def _describe(error: Any) -> str:
    # drop the union tag pydantic adds ("threshold.window" -> "window")
    loc = [str(p) for p in error["loc"]]
    if loc and loc[0] in {"threshold", "ratio", "absence", "spike", "new_value"}:
        loc = loc[1:]
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{'.'.join(loc)}: {message}" if loc else message
