"""Generated traffic with known ground truth: every exact join, approximate precision/recall."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from itertools import pairwise

import pytest

from logwatch.correlate import correlator as correlator_module
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.stats import OriginKey
from tests.correlate.evaluate import Outcome, correlate, parse_scenario, score
from tests.correlate.scenario import Scenario, generate


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(5000, seed=7, skew_s=1.0, drop_rate=0.02, failure_rate=3.0)


@pytest.fixture(scope="module")
def outcome(scenario: Scenario) -> Outcome:
    records = parse_scenario(scenario)
    result = correlate(records, CorrelationConfig(keep_connection_pairs=True), batch_rows=2000)
    score(result, scenario)
    return result


def test_scenario_has_the_hard_cases(scenario: Scenario) -> None:
    truth = scenario.truth
    per_connection: dict[tuple[str, int], int] = {}
    for connection in truth.exact.values():
        per_connection[connection] = per_connection.get(connection, 0) + 1
    assert max(per_connection.values()) >= 5  # keep-alive connections carry many requests
    ports: dict[str, set[tuple[str, int]]] = {}
    for file, lines in scenario.files.items():
        if "ztunnel" in file:
            for lineno, line in enumerate(lines, 1):
                if 'direction="outbound"' in line:
                    src = line.split("src.addr=")[1].split(" ")[0]
                    ports.setdefault(src, set()).add((file, lineno))
    assert any(len(lines) > 1 for lines in ports.values())  # reused ephemeral ports
    assert len(truth.paths) == 5000 and truth.origins


def test_every_exact_join_is_found_and_none_is_wrong(outcome: Outcome) -> None:
    exact = outcome.scores["l4_exact"]
    assert exact.truth > 5000
    assert (exact.predicted, exact.correct) == (exact.truth, exact.truth)


def test_every_request_path_has_exactly_its_hops(outcome: Outcome) -> None:
    paths = outcome.scores["x_request_id"]
    assert paths.correct == paths.truth == 5000


@pytest.mark.parametrize(
    ("kind", "precision", "recall"),
    [
        ("ztunnel_pair", 0.98, 0.95),
        ("waypoint_downstream", 0.95, 0.93),
        ("waypoint_inbound", 0.95, 0.93),
    ],
)
def test_approximate_joins_meet_precision_and_recall(
    outcome: Outcome, kind: str, precision: float, recall: float
) -> None:
    measured = outcome.scores[kind]
    assert measured.truth > 500
    assert measured.precision >= precision, measured
    assert measured.recall >= recall, measured


def test_failure_origins_match_the_injected_failures(outcome: Outcome, scenario: Scenario) -> None:
    by_id = {p.request_id: p for p in outcome.paths}
    kinds = {expected[2] for expected in scenario.truth.origins.values()}
    assert kinds == {"rate_limited", "circuit_breaker", "authz_denied"}
    for rid, expected in scenario.truth.origins.items():
        origin = by_id[rid].origin
        assert origin is not None, rid
        assert (origin.role, origin.pod, origin.signal) == expected, (rid, origin)


def test_hidden_failure_names_the_edge_that_still_answered_200(outcome: Outcome) -> None:
    hidden = [
        p
        for p in outcome.paths
        if p.origin is not None and p.origin.hop_index > 0 and p.hops[0].response_code == 200
    ]
    assert hidden
    assert all("the ingress still answered 200" in p.origin.description for p in hidden if p.origin)


def test_summary_matches_paths(outcome: Outcome) -> None:
    summary = outcome.correlator.summary()
    assert summary["requests"] == len([p for p in outcome.paths if p.request_id])
    assert summary["multi_hop"] == sum(1 for p in outcome.paths if p.request_id and p.multi_hop)
    legs = sum(1 for p in outcome.paths for h in p.hops for leg in h.legs if leg.join == "l4_exact")
    assert summary["l4_joined"] == legs
    assert summary["evictions"] == {}


def test_failure_counts_by_origin_match_the_origins_of_the_paths(outcome: Outcome) -> None:
    # counted column-wise, but for origins a ztunnel leg decides: both kinds are here
    expected = Counter(
        OriginKey(o.role or "unknown", o.pod or "unknown", o.signal)
        for p in outcome.paths
        if (o := p.origin) is not None
    )
    assert {key.role for key in expected} >= {"ingress", "waypoint", "ztunnel"}
    assert outcome.correlator.stats.failures_by_origin == expected


def _exact_legs(outcome: Outcome) -> set[tuple[object, ...]]:
    return {
        (h.file, h.lineno, leg.file, leg.lineno)
        for p in outcome.paths
        for h in p.hops
        for leg in h.legs
        if leg.join == "l4_exact"
    }


@pytest.mark.parametrize(
    ("rows", "min_records", "by_volume"),
    [(500, 1, False), (500, 1_000, False), (500, 1_000, True), (6000, 50_000, True)],
    ids=["every-batch", "live-cadence", "replay-cadence", "one-step"],
)
def test_batching_and_step_cadence_do_not_change_exact_joins(
    scenario: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
    min_records: int,
    by_volume: bool,
) -> None:
    records = parse_scenario(scenario).head(6000)
    config = CorrelationConfig(join_window_s=3)  # many steps over these 6,000 records
    expected = _exact_legs(correlate(records, config, batch_rows=6000))
    assert len(expected) > 1000
    monkeypatch.setattr(correlator_module, "_INTAKE_ROWS", rows)
    monkeypatch.setattr(correlator_module, "_STEP_MIN_RECORDS", min_records)
    outcome = correlate(records, config, batch_rows=rows, by_volume=by_volume)
    assert _exact_legs(outcome) == expected


def test_generator_never_reuses_a_port_while_its_connection_is_open(scenario: Scenario) -> None:
    # Two live connections with one 4-tuple cannot exist; exact joins rely on it.
    lifetimes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for file, lines in scenario.files.items():
        if "ztunnel" not in file:
            continue
        for line in lines:
            if 'direction="outbound"' not in line:
                continue
            body = line.split(" stdout F ", 1)[1]
            close = datetime.strptime(body.split("\t")[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
            fields = dict(kv.split("=", 1) for kv in body.split("\t")[4].split(" ") if "=" in kv)
            duration = int(fields["duration"].strip('"').removesuffix("ms")) / 1000
            key = (fields["src.addr"], fields["dst.hbone_addr"])
            lifetimes.setdefault(key, []).append((close - duration, close))
    reused = [spans for spans in lifetimes.values() if len(spans) > 1]
    assert reused
    for spans in reused:
        spans.sort()
        assert all(later[0] >= earlier[1] for earlier, later in pairwise(spans))
