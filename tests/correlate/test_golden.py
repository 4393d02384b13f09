"""Golden joins: the join keys embedded on purpose in tests/fixtures (see its README)."""

from __future__ import annotations

import pytest

from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.correlator import Correlator
from logwatch.correlate.path import Hop, RequestPath
from tests.correlate.fixtures import sample_batches

EG = "envoy-gateway.jsonl"
ISTIO = "istio-text.log"
ZT = "ztunnel.log"


Correlated = tuple[Correlator, dict[tuple[str, int], RequestPath]]


@pytest.fixture(scope="module")
def correlated() -> Correlated:
    correlator = Correlator(CorrelationConfig(keep_connection_pairs=True))
    for batch in sample_batches():
        correlator.on_records(batch)
    paths = correlator.finish()
    by_line = {(hop.file or "", hop.lineno or 0): path for path in paths for hop in path.hops}
    return correlator, by_line


def _hop(paths: dict[tuple[str, int], RequestPath], file: str, lineno: int) -> Hop:
    path = paths[(file, lineno)]
    return next(h for h in path.hops if (h.file, h.lineno) == (file, lineno))


def _legs(hop: Hop) -> set[tuple[str, str, int]]:
    return {(leg.join, leg.side, leg.lineno or 0) for leg in hop.legs}


def test_ingress_keepalive_requests_join_one_outbound_connection_exactly(
    correlated: Correlated,
) -> None:
    _, paths = correlated
    for lineno in (1, 2):
        hop = _hop(paths, EG, lineno)
        assert ("l4_exact", "upstream", 1) in _legs(hop)
        exact = [leg for leg in hop.legs if leg.join == "l4_exact"]
        assert len(exact) == 1 and exact[0].confidence == 1.0
        assert ("ztunnel_pair", "upstream", 2) in _legs(hop)


def test_x_request_id_joins_ingress_and_istio_waypoint(correlated: Correlated) -> None:
    _, paths = correlated
    path = paths[(EG, 1)]
    assert path.request_id == "2b8e6c1f-6f1e-4f43-9c39-0c1f2a7d9e51"
    assert [(h.file, h.lineno) for h in path.hops] == [(EG, 1), (ISTIO, 1), (ISTIO, 10)]
    assert [h.role for h in path.hops] == ["ingress", "waypoint", "waypoint"]
    assert path.multi_hop
    assert path.hops[1].join == "x_request_id"
    assert path.origin is None
    # ingress lasted 1404 ms around a 9 ms waypoint hop
    assert path.hops[0].added_latency_ms == 1404 - 9


def test_istio_waypoint_legs_are_approximate_and_name_the_waypoint(correlated: Correlated) -> None:
    _, paths = correlated
    hop = _hop(paths, ISTIO, 1)
    assert _legs(hop) == {
        ("waypoint_downstream", "downstream", 3),
        ("waypoint_inbound", "upstream", 4),
    }
    assert all(0.5 <= leg.confidence <= 1.0 for leg in hop.legs)
    assert hop.pod == "waypoint-6f7b665c89-6hppr"  # learned from the downstream leg
    assert hop.client_workload == "productpage-v1-54bb874995-kzpnw"
    assert hop.upstream_workload == "reviews-v2-5b667bcbf8-gj7nz"


def test_envoy_gateway_waypoint_exact_upstream_and_approximate_downstream(
    correlated: Correlated,
) -> None:
    _, paths = correlated
    hop = _hop(paths, EG, 16)
    assert _legs(hop) == {("l4_exact", "upstream", 6), ("waypoint_downstream", "downstream", 5)}
    assert hop.pod == "waypoint-7cc857d87b-8kv2z"
    assert hop.role == "waypoint"


def test_failure_pairs_and_their_origins(correlated: Correlated) -> None:
    _, paths = correlated
    refused = paths[(EG, 14)]
    assert _legs(refused.hops[0]) == {
        ("l4_exact", "upstream", 14),
        ("ztunnel_pair", "upstream", 15),
    }
    assert refused.origin is not None
    assert refused.origin.role == "ztunnel"
    assert refused.origin.pod == "productpage-v1-54bb874995-kzpnw"
    assert refused.origin.cause == "app not listening"

    denied = paths[(EG, 19)]
    assert _legs(denied.hops[0]) == {("l4_exact", "upstream", 16)}
    assert denied.origin is not None
    assert (denied.origin.signal, denied.origin.role) == ("authz_denied", "ztunnel")
    assert denied.origin.pod == "ratings-v1-7d5d8d5d4c-x7q2n"

    forgot_waypoint = paths[(ISTIO, 5)]
    assert _legs(forgot_waypoint.hops[0]) == {("waypoint_inbound", "upstream", 11)}
    assert forgot_waypoint.origin is not None
    assert forgot_waypoint.origin.signal == "authz_denied"
    assert forgot_waypoint.origin.pod == "reviews-v2-5b667bcbf8-gj7nz"


def test_outbound_inbound_pairs_are_exactly_the_documented_ones(correlated: Correlated) -> None:
    correlator, _ = correlated
    pairs = correlator.drain_connection_pairs()
    found = {(row["outbound_lineno"], row["inbound_lineno"]) for row in pairs.iter_rows(named=True)}
    # ingress -> productpage (keep-alive), the refused one, and the denied curl connection
    assert found == {(1, 2), (14, 15), (8, 10)}


def test_no_other_hop_gets_a_leg(correlated: Correlated) -> None:
    _, paths = correlated
    with_legs = {
        (hop.file, hop.lineno) for path in set(paths.values()) for hop in path.hops if hop.legs
    }
    assert with_legs == {
        (EG, 1),
        (EG, 2),
        (EG, 14),
        (EG, 16),
        (EG, 19),
        (ISTIO, 1),
        (ISTIO, 5),
        (ISTIO, 10),
    }


def test_summary_counts_follow_the_record_contract(correlated: Correlated) -> None:
    correlator, _ = correlated
    summary = correlator.summary()
    # distinct x-request-ids over Envoy records: 23 + 10 lines, one id shared by 3 lines,
    # the "- - -" origination line has none
    assert summary["requests"] == 23 + 10 - 2 - 1
    assert summary["multi_hop"] == 1
    assert summary["l4_joined"] == 5  # EG lines 1, 2, 14, 16, 19
    assert summary["joins"]["waypoint_downstream"] == 3
    assert summary["evictions"] == {}
    origins = {(o["role"], o["pod"], o["signal"]) for o in summary["failures_by_origin"]}
    assert ("ztunnel", "ratings-v1-7d5d8d5d4c-x7q2n", "authz_denied") in origins
