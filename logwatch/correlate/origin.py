"""The origin of a request's failure: the first hop, in time, where a signal appeared.

Along a path ingress -> ... -> backend the deepest proxy answers first, so the deepest hop
carrying a failure signal is where the failure appeared; the hops in front of it only passed
it on (or hid it: the ingress may still answer 200). ``downstream_disconnect`` counts only
when nothing else is wrong, since it describes the client, not the path.

ztunnel nuances (FORMATS.md 1.3, 5.3): when that hop's upstream leg carries a ztunnel error,
the failure belongs to the next hop. An Envoy ``UC``/``UF``/``URX`` whose leg says ``http
status: 401`` or ``policy rejection`` is an L4 policy denial at the destination (signal
``authz_denied``); ``http status: 503`` with an inbound ``Connection refused`` is an app not
listening; a connect timeout on 15008 is HBONE blocked (often a NetworkPolicy).
"""

from __future__ import annotations

from logwatch.correlate.path import FailureOrigin, Hop, ZtunnelLeg

NOT_A_FAILURE = frozenset({"downstream_disconnect"})

# error_class -> (signal, cause)
_LEG_CAUSES: dict[str, tuple[str, str]] = {
    "policy_denied": ("authz_denied", "L4 policy denial at the destination"),
    "connection_refused": ("upstream_connect_failure", "app not listening"),
    "connect_timeout": ("upstream_connect_failure", "HBONE port 15008 unreachable"),
    "no_healthy_upstream": ("no_healthy_upstream", "no healthy endpoint"),
    "routing": ("no_route", "no route to the destination"),
    "tls": ("connection_error", "mTLS failure"),
    "upstream_status": ("upstream_connect_failure", "destination ztunnel refused the tunnel"),
}

# Inbound errors explain outbound ones (the destination side saw the cause), so they win.
_LEG_PRIORITY = {"inbound": 0, "outbound": 1}


def failure_origin(hops: tuple[Hop, ...]) -> FailureOrigin | None:
    """The origin of the failure on ``hops`` (path order), or None when nothing failed."""
    if not any(hop.signals for hop in hops):
        return None  # the common case, checked first: most paths did not fail
    index = _deepest_failing_hop(hops)
    if index is None:
        return None
    hop = hops[index]
    leg = _failing_leg(hop)
    if leg is not None and leg.error_class is not None:
        signal, cause = _LEG_CAUSES.get(leg.error_class, ("connection_error", leg.error_class))
        where = leg.dst_workload or leg.dst_hbone_addr or leg.dst_addr
        description = (
            f"{signal} at ztunnel {leg.direction or ''} for {where} ({cause}: {leg.error}); "
            f"{_hop_name(hop)} answered {_answer(hop)}"
        )
        return FailureOrigin(
            signal=signal,
            role="ztunnel",
            pod=leg.dst_workload,
            namespace=leg.dst_namespace,
            hop_index=index,
            route_name=hop.route_name,
            upstream_cluster=hop.upstream_cluster,
            cause=cause,
            description=description + _edge_note(hops, index),
        )
    signal = _failure_signals(hop)[0]
    where = hop.route_name or hop.upstream_cluster
    description = f"{signal} at {_hop_name(hop)}" + (f" on {where}" if where else "")
    return FailureOrigin(
        signal=signal,
        role=hop.role,
        pod=hop.pod,
        namespace=hop.namespace,
        hop_index=index,
        route_name=hop.route_name,
        upstream_cluster=hop.upstream_cluster,
        cause=hop.response_code_details,
        description=description + _edge_note(hops, index),
    )


def _failure_signals(hop: Hop) -> tuple[str, ...]:
    serious = tuple(s for s in hop.signals if s not in NOT_A_FAILURE)
    return serious or hop.signals


def _deepest_failing_hop(hops: tuple[Hop, ...]) -> int | None:
    for index in range(len(hops) - 1, -1, -1):
        if any(s not in NOT_A_FAILURE for s in hops[index].signals):
            return index
    for index in range(len(hops) - 1, -1, -1):
        if hops[index].signals:
            return index
    return None


def _failing_leg(hop: Hop) -> ZtunnelLeg | None:
    failing = [leg for leg in hop.legs if leg.side == "upstream" and leg.error is not None]
    if not failing:
        return None
    return min(failing, key=lambda leg: _LEG_PRIORITY.get(leg.direction or "", 2))


def _hop_name(hop: Hop) -> str:
    return f"{hop.role or 'proxy'} {hop.pod or hop.file or '?'}"


def _answer(hop: Hop) -> str:
    flags = ",".join(hop.response_flags)
    return f"{hop.response_code}" + (f" {flags}" if flags else "")


def _edge_note(hops: tuple[Hop, ...], index: int) -> str:
    if index == 0:
        return ""
    edge = hops[0]
    still = "" if any(s not in NOT_A_FAILURE for s in edge.signals) else "still "
    return f"; the {edge.role or 'first proxy'} {still}answered {_answer(edge)}"
