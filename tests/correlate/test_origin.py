"""Failure origin rules on hand-built paths (ambient nuances of FORMATS.md 1.3 and 5.3)."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from logwatch.correlate.counting import origin_counts
from logwatch.correlate.origin import failure_origin
from logwatch.correlate.path import Hop, ZtunnelLeg
from logwatch.correlate.stats import OriginKey

EDGE = Hop(
    role="ingress",
    pod="gw",
    namespace="ns",
    time="t",
    duration_ms=30,
    added_latency_ms=None,
    method="GET",
    path="/",
    response_code=200,
    response_flags=(),
    response_code_details=None,
    signals=(),
    route_name="httproute/default/ingress/rule/0/match/0/*",
    upstream_cluster="httproute/default/ingress/rule/0",
    upstream_host=None,
    client_workload=None,
    upstream_workload=None,
    join=None,
    legs=(),
    file="gw.log",
    lineno=1,
)
LEG = ZtunnelLeg(
    side="upstream",
    join="l4_exact",
    confidence=1.0,
    direction="outbound",
    time="t",
    duration_ms=0,
    src_addr="10.0.0.1:4000",
    src_workload="gw",
    dst_addr="10.0.0.2:15008",
    dst_hbone_addr="10.0.0.2:9080",
    dst_workload="ratings-v1",
    dst_namespace="default",
    error=None,
    error_class=None,
    file="z.log",
    lineno=1,
)


def _failed(hop: Hop, flags: tuple[str, ...], signals: tuple[str, ...], code: int = 503) -> Hop:
    return replace(hop, response_code=code, response_flags=flags, signals=signals)


def test_no_signal_no_origin() -> None:
    assert failure_origin((EDGE,)) is None


def test_deepest_signal_wins_and_the_edge_that_hid_it_is_named() -> None:
    waypoint = _failed(
        replace(EDGE, role="waypoint", pod="waypoint-7cc8", route_name="ratings"),
        ("UO",),
        ("circuit_breaker",),
    )
    origin = failure_origin((EDGE, waypoint))
    assert origin is not None
    assert (origin.signal, origin.role, origin.pod, origin.hop_index) == (
        "circuit_breaker",
        "waypoint",
        "waypoint-7cc8",
        1,
    )
    assert origin.description == (
        "circuit_breaker at waypoint waypoint-7cc8 on ratings; the ingress still answered 200"
    )


def test_uc_with_ztunnel_401_is_a_policy_denial_at_the_next_hop() -> None:
    denied = replace(LEG, error="http status: 401 Unauthorized", error_class="policy_denied")
    hop = replace(_failed(EDGE, ("UC",), ("upstream_reset",)), legs=(denied,))
    origin = failure_origin((hop,))
    assert origin is not None
    assert (origin.signal, origin.role, origin.pod) == ("authz_denied", "ztunnel", "ratings-v1")
    assert "ingress gw answered 503 UC" in origin.description


def test_inbound_connection_refused_explains_the_outbound_503_as_app_not_listening() -> None:
    outbound = replace(
        LEG, error="http status: 503 Service Unavailable", error_class="upstream_status"
    )
    inbound = replace(
        LEG,
        join="ztunnel_pair",
        direction="inbound",
        error="io error: Connection refused (os error 111)",
        error_class="connection_refused",
    )
    hop = replace(_failed(EDGE, ("UC",), ("upstream_reset",)), legs=(outbound, inbound))
    origin = failure_origin((hop,))
    assert origin is not None
    assert (origin.cause, origin.pod) == ("app not listening", "ratings-v1")


def test_downstream_leg_errors_do_not_move_the_origin() -> None:
    downstream = replace(
        LEG,
        side="downstream",
        error="connection closed due to connection drain",
        error_class="drain",
    )
    hop = replace(_failed(EDGE, ("UO",), ("circuit_breaker",)), legs=(downstream,))
    origin = failure_origin((hop,))
    assert origin is not None and origin.role == "ingress"


def test_client_disconnect_counts_only_when_nothing_else_failed() -> None:
    waypoint = _failed(
        replace(EDGE, role="waypoint", pod="wp"), ("DC",), ("downstream_disconnect",), code=0
    )
    edge = _failed(EDGE, ("RL",), ("rate_limited",), code=429)
    origin = failure_origin((edge, waypoint))
    assert origin is not None and origin.signal == "rate_limited"
    only_dc = failure_origin((EDGE, waypoint))
    assert only_dc is not None and only_dc.signal == "downstream_disconnect"


def test_origin_counts_take_the_deepest_serious_signal_like_failure_origin() -> None:
    # (path, hop index, role, pod, signals)
    rows = [
        ("a", 0, "ingress", "gw", ["rate_limited"]),
        ("a", 1, "waypoint", "wp", ["downstream_disconnect"]),  # benign: not the origin
        ("b", 0, "ingress", "gw", ["downstream_disconnect"]),
        ("b", 1, None, "", ["downstream_disconnect"]),  # nothing serious: the deepest hop
        ("c", 0, "ingress", "gw", ["circuit_breaker", "rate_limited"]),
        ("c", 1, "waypoint", "wp", ["circuit_breaker"]),
    ]
    hops = pl.DataFrame(
        [
            {"path_key": k, "hop_index": i, "id": n, "role": r, "proxy_workload": p, "signals": s}
            for n, (k, i, r, p, s) in enumerate(rows)
        ]
    )
    legs = pl.DataFrame(schema={"hop_id": pl.Int64, "side": pl.String})
    assert origin_counts(hops, legs) == {
        OriginKey("ingress", "gw", "rate_limited"): 1,
        OriginKey("unknown", "unknown", "downstream_disconnect"): 1,
        OriginKey("waypoint", "wp", "circuit_breaker"): 1,
    }
