"""Run a generated scenario through the real parser and the Correlator; score against truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.correlator import Correlator
from logwatch.correlate.path import RequestPath
from parsers import StreamDecoder
from tests.correlate.scenario import Line, Scenario


@dataclass(frozen=True)
class Score:
    truth: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.truth if self.truth else 1.0


@dataclass
class Outcome:
    paths: list[RequestPath]
    pairs: pl.DataFrame
    correlator: Correlator
    scores: dict[str, Score] = field(default_factory=dict)


def parse_scenario(scenario: Scenario) -> pl.DataFrame:
    """All records of all files, merged in event-time order (as a replay would feed them)."""
    frames = []
    for file, lines in scenario.files.items():
        chunk = StreamDecoder(file=file).feed(("\n".join(lines) + "\n").encode())
        assert not chunk.rejections, chunk.rejections[:3]
        frames.append(chunk.records)
    return pl.concat(frames).sort("ts", maintain_order=True)


def correlate(
    records: pl.DataFrame, config: CorrelationConfig, batch_rows: int, *, by_volume: bool = False
) -> Outcome:
    """Feed ``records`` in batches, each followed by a watermark at its last event time
    (``by_volume``: stepping as a replay does)."""
    correlator = Correlator(config)
    if by_volume:
        correlator.step_by_volume()
    paths: list[RequestPath] = []
    pairs: list[pl.DataFrame] = []
    for batch in records.iter_slices(batch_rows):
        correlator.on_records(batch)
        watermark = batch["ts"].max()
        assert isinstance(watermark, datetime)
        correlator.on_watermark(watermark)
        paths.extend(correlator.drain_paths())
        pairs.append(correlator.drain_connection_pairs())
    paths.extend(correlator.finish())
    pairs.append(correlator.drain_connection_pairs())
    return Outcome(paths, pl.concat(pairs), correlator)


def score(outcome: Outcome, scenario: Scenario) -> dict[str, Score]:
    truth = scenario.truth
    legs: dict[str, dict[Line, set[Line]]] = {
        "l4_exact": {},
        "waypoint_downstream": {},
        "waypoint_inbound": {},
    }
    for path in outcome.paths:
        for hop in path.hops:
            for leg in hop.legs:
                if leg.join in legs:
                    legs[leg.join].setdefault((hop.file or "", hop.lineno or 0), set()).add(
                        (leg.file or "", leg.lineno or 0)
                    )
    scores = {
        "l4_exact": _score(truth.exact, legs["l4_exact"]),
        "waypoint_downstream": _score(truth.downstream, legs["waypoint_downstream"]),
        "waypoint_inbound": _score(truth.inbound, legs["waypoint_inbound"]),
    }
    found_pairs: dict[Line, set[Line]] = {}
    for row in outcome.pairs.iter_rows(named=True):
        found_pairs.setdefault((row["outbound_file"], row["outbound_lineno"]), set()).add(
            (row["inbound_file"], row["inbound_lineno"])
        )
    scores["ztunnel_pair"] = _score(truth.pairs, found_pairs)
    by_id = {p.request_id: p for p in outcome.paths if p.request_id is not None}
    hops_right = sum(
        1
        for rid, lines in truth.paths.items()
        if rid in by_id and {(h.file or "", h.lineno or 0) for h in by_id[rid].hops} == lines
    )
    scores["x_request_id"] = Score(len(truth.paths), len(by_id), hops_right)
    origins_right = 0
    for rid, expected in truth.origins.items():
        origin = by_id[rid].origin if rid in by_id else None
        if origin is not None and (origin.role, origin.pod, origin.signal) == expected:
            origins_right += 1
    predicted_origins = sum(1 for p in outcome.paths if p.origin is not None)
    scores["origin"] = Score(len(truth.origins), predicted_origins, origins_right)
    outcome.scores = scores
    return scores


def _score(expected: dict[Line, Line], found: dict[Line, set[Line]]) -> Score:
    predicted = sum(len(v) for v in found.values())
    correct = sum(1 for hop, line in expected.items() if line in found.get(hop, set()))
    return Score(len(expected), predicted, correct)
