"""Response flags, details, ztunnel error classes, roles, k8s paths, times: unit tests."""

from __future__ import annotations

import pytest

from parsers import (
    LONG_TO_SHORT,
    SHORT_CODES,
    PodMeta,
    RoleMap,
    RoleRule,
    parse_flags,
    pod_meta_from_path,
)
from parsers.details import reset_reason
from parsers.flags import BadFlags, envoy_signals
from parsers.timefmt import BadTime, parse_time
from parsers.ztunnel_errors import classify_error


@pytest.mark.parametrize("short", sorted(SHORT_CODES))
def test_every_short_code_is_kept(short: str) -> None:
    assert parse_flags(short) == (short,)


@pytest.mark.parametrize(("long", "short"), sorted(LONG_TO_SHORT.items()))
def test_every_long_name_maps_to_its_short_code(long: str, short: str) -> None:
    assert parse_flags(long) == (short,)


def test_flag_table_is_envoys() -> None:
    assert len(SHORT_CODES) == 29
    assert LONG_TO_SHORT["UpstreamOverflow"] == "UO" and LONG_TO_SHORT["RateLimited"] == "RL"


def test_flags_are_a_sorted_set_and_unknown_upper_case_is_kept() -> None:
    assert parse_flags("URX,UF") == parse_flags("UF,URX") == ("UF", "URX")
    assert parse_flags("UpstreamRetryLimitExceeded,UF,UF") == ("UF", "URX")
    assert parse_flags("XCUSTOM,RL") == ("RL", "XCUSTOM")
    assert parse_flags("-") == parse_flags(None) == parse_flags("") == ()
    with pytest.raises(BadFlags):
        parse_flags("uo")
    with pytest.raises(BadFlags):
        parse_flags("UO,,UF")


@pytest.mark.parametrize(
    ("flags", "details", "signals"),
    [
        ("RL", "request_rate_limited", ("rate_limited",)),
        ("RLSE", "rate_limiter_error", ("rate_limit_error",)),
        ("UO", None, ("circuit_breaker",)),
        ("URX", None, ("retry_limit",)),
        ("UH", None, ("no_healthy_upstream",)),
        ("UF", None, ("upstream_connect_failure",)),
        ("UC", None, ("upstream_reset",)),
        ("UR", None, ("upstream_reset",)),
        ("LR", None, ("upstream_reset",)),
        ("UT", None, ("upstream_timeout",)),
        ("NR", None, ("no_route",)),
        ("NC", None, ("no_route",)),
        ("UAEX", "ext_authz_denied", ("authz_denied",)),
        ("-", "rbac_access_denied_matched_policy[none]", ("authz_denied",)),
        ("-", "jwt_authn_access_denied{Jwt_is_missing}", ("authz_denied",)),
        ("DC", None, ("downstream_disconnect",)),
        ("DR", None, ("downstream_disconnect",)),
        ("FI", "fault_filter_abort", ("fault_injected",)),
        ("DI", None, ("fault_injected",)),
        ("SI", None, ()),
        ("UF,URX,UO", None, ("circuit_breaker", "retry_limit", "upstream_connect_failure")),
    ],
)
def test_signals(flags: str, details: str | None, signals: tuple[str, ...]) -> None:
    assert envoy_signals(parse_flags(flags), details) == signals


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ("upstream_reset_before_response_started{overflow}", "overflow"),
        ("upstream_reset_after_response_started{remote_reset}", "remote_reset"),
        (
            "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}",
            "connection_failure",
        ),
        (
            "upstream_reset_before_response_started{remote_connection_failure|TLS_error:|268435703:SSL_routines}",
            "remote_connection_failure",
        ),
        ("via_upstream", None),
        ("upstream_reset_before_response_started{}", None),
        (None, None),
    ],
)
def test_reset_reason(details: str | None, reason: str | None) -> None:
    assert reset_reason(details) == reason


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        ("http status: 401 Unauthorized", "policy_denied"),
        ("connection closed due to policy rejection: workload not found", "policy_denied"),
        ("connection closed due to policy change", "policy_denied"),
        ("http status: 503 Service Unavailable", "upstream_status"),
        (
            "connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed",
            "connect_timeout",
        ),
        ("io error: Connection refused (os error 111)", "connection_refused"),
        ("no healthy upstream: 10.96.69.42:80", "no_healthy_upstream"),
        ("no service or workload for hostname: foo.bar", "routing"),
        ("unknown waypoint: default/waypoint", "routing"),
        ("failed to fetch information about local workload: a.b (a)", "unknown_workload"),
        ("tls error: handshake failure", "tls"),
        ("connection closed: peer certificate revoked by CRL", "tls"),
        ("http2 handshake failed: timeout", "http2"),
        ("connection closed due to connection drain", "drain"),
        ("destination disconnected before all data was written", "disconnect"),
        ("something new", "other"),
        (None, None),
    ],
)
def test_ztunnel_error_class(error: str | None, error_class: str | None) -> None:
    assert classify_error(error) == error_class


def test_k8s_paths() -> None:
    assert pod_meta_from_path(
        "/var/log/pods/istio-system_ztunnel-x7k2p_0a1b2c/istio-proxy/0.log"
    ) == PodMeta("ztunnel-x7k2p", "istio-system", "istio-proxy")
    assert pod_meta_from_path(
        "/var/log/pods/default_waypoint-6f7b_uid/istio-proxy/3.log.20250718-033320.gz"
    ) == PodMeta("waypoint-6f7b", "default", "istio-proxy")
    assert pod_meta_from_path(
        "/var/log/containers/envoy-default-gw-57b6_envoy-gateway-system_envoy-" + "a" * 64 + ".log"
    ) == PodMeta("envoy-default-gw-57b6", "envoy-gateway-system", "envoy")
    assert pod_meta_from_path("/tmp/access.log") is None
    assert pod_meta_from_path(None) is None


def test_roles_are_configurable() -> None:
    roles = RoleMap.default()
    assert roles.envoy_role({"pod": "waypoint-6f7b665c89-6hppr"}) == "waypoint"
    assert (
        roles.envoy_role({"upstream_cluster": "outbound|9080||reviews.default.svc.cluster.local"})
        == "sidecar"
    )
    assert roles.envoy_role({"route_name": "httproute/default/r/rule/0/match/0/*"}) == "ingress"
    assert roles.envoy_role({}) is None
    custom = roles.with_rules_first(
        RoleRule("route_name", r"^httproute/default/ratings/", "waypoint")
    )
    assert (
        custom.envoy_role({"route_name": "httproute/default/ratings/rule/0/match/0/x"})
        == "waypoint"
    )


def test_times() -> None:
    assert parse_time("2025-07-18T03:33:20.1198Z")[0] == "2025-07-18T03:33:20.1198Z"
    text, ts = parse_time("2025-07-18T05:33:20.123456789+02:00")
    assert text == "2025-07-18T03:33:20.123456Z" and ts.microsecond == 123456
    for bad in ("2025-02-30T00:00:00Z", "yesterday", "2025-07-18 03:33:20"):
        with pytest.raises(BadTime):
            parse_time(bad)
