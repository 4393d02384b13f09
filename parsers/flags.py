"""Envoy response flags and the signals derived from them.

The table is Envoy's ``ResponseFlagUtils::CORE_RESPONSE_FLAGS``
(``source/common/stream_info/utility.h``): ``%RESPONSE_FLAGS%`` prints the short codes joined
by ``,`` (``-`` when none), ``%RESPONSE_FLAGS_LONG%`` the PascalCase names. Order is not stable
across Envoy versions, so flags are normalized to a sorted set of short codes.
"""

from __future__ import annotations

import re

LONG_TO_SHORT: dict[str, str] = {
    "FailedLocalHealthCheck": "LH",
    "NoHealthyUpstream": "UH",
    "UpstreamRequestTimeout": "UT",
    "LocalReset": "LR",
    "UpstreamRemoteReset": "UR",
    "UpstreamConnectionFailure": "UF",
    "UpstreamConnectionTermination": "UC",
    "UpstreamOverflow": "UO",
    "NoRouteFound": "NR",
    "DelayInjected": "DI",
    "FaultInjected": "FI",
    "RateLimited": "RL",
    "UnauthorizedExternalService": "UAEX",
    "RateLimitServiceError": "RLSE",
    "DownstreamConnectionTermination": "DC",
    "UpstreamRetryLimitExceeded": "URX",
    "StreamIdleTimeout": "SI",
    "InvalidEnvoyRequestHeaders": "IH",
    "DownstreamProtocolError": "DPE",
    "UpstreamMaxStreamDurationReached": "UMSDR",
    "ResponseFromCacheFilter": "RFCF",
    "NoFilterConfigFound": "NFCF",
    "DurationTimeout": "DT",
    "UpstreamProtocolError": "UPE",
    "NoClusterFound": "NC",
    "OverloadManagerTerminated": "OM",
    "DnsResolutionFailed": "DF",
    "DropOverload": "DO",
    "DownstreamRemoteReset": "DR",
}
SHORT_CODES: frozenset[str] = frozenset(LONG_TO_SHORT.values())

# Custom flags registered by extensions are upper-case short codes or PascalCase long names.
_CUSTOM_FLAG = re.compile(r"[A-Z][A-Za-z0-9_]*")

# signal -> the short flags that raise it, in the order signals are reported.
FLAG_SIGNALS: tuple[tuple[str, frozenset[str]], ...] = (
    ("rate_limited", frozenset({"RL"})),
    ("rate_limit_error", frozenset({"RLSE"})),
    ("circuit_breaker", frozenset({"UO"})),
    ("retry_limit", frozenset({"URX"})),
    ("no_healthy_upstream", frozenset({"UH"})),
    ("upstream_connect_failure", frozenset({"UF"})),
    ("upstream_reset", frozenset({"UC", "UR", "LR"})),
    ("upstream_timeout", frozenset({"UT"})),
    ("no_route", frozenset({"NR", "NC"})),
    ("authz_denied", frozenset({"UAEX"})),
    ("downstream_disconnect", frozenset({"DC", "DR"})),
    ("fault_injected", frozenset({"FI", "DI"})),
)
SIGNAL_ORDER: tuple[str, ...] = (*(name for name, _ in FLAG_SIGNALS), "connection_error")

# response_code_details prefixes that mean an authorization filter denied the request.
AUTHZ_DENIED_DETAILS: tuple[str, ...] = (
    "rbac_access_denied",
    "ext_authz_denied",
    "jwt_authn_access_denied",
)


class BadFlags(ValueError):
    """A response-flags value that is neither ``-`` nor a list of flag tokens."""


def parse_flags(value: str | None) -> tuple[str, ...]:
    """Short codes, sorted and unique, from a ``%RESPONSE_FLAGS%``/``_LONG%`` value.

    ``None``, ``""`` and ``-`` mean no flag. Long names map to short codes; unknown tokens that
    look like flags (upper-case start, alphanumeric) are kept as written. Raises ``BadFlags``
    for anything else, so a garbled value is reported instead of silently dropped.
    """
    if value is None or value in ("", "-"):
        return ()
    out: set[str] = set()
    for raw in value.split(","):
        token = raw.strip()
        if token in SHORT_CODES:
            out.add(token)
        elif token in LONG_TO_SHORT:
            out.add(LONG_TO_SHORT[token])
        elif _CUSTOM_FLAG.fullmatch(token):
            out.add(token)
        else:
            raise BadFlags(f"not a response flag: {token[:40]!r}")
    return tuple(sorted(out))


def envoy_signals(flags: tuple[str, ...], details: str | None) -> tuple[str, ...]:
    """Signals of one Envoy record, in ``SIGNAL_ORDER``."""
    present = set(flags)
    out = [name for name, codes in FLAG_SIGNALS if present & codes]
    if (
        "authz_denied" not in out
        and details is not None
        and details.startswith(AUTHZ_DENIED_DETAILS)
    ):
        out.append("authz_denied")
        out.sort(key=SIGNAL_ORDER.index)
    return tuple(out)


def ztunnel_signals(error: str | None, error_class: str | None) -> tuple[str, ...]:
    """Signals of one ztunnel record, in ``SIGNAL_ORDER``."""
    if error is None:
        return ()
    if error_class == "policy_denied":
        return ("authz_denied", "connection_error")
    return ("connection_error",)
