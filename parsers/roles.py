"""Which hop of the request path a proxy plays: ``ingress``, ``waypoint``, ``sidecar``, ``ztunnel``.

Access logs do not say it; it is inferred from the pod name and, when the pod is unknown, from
Envoy route and cluster names. The mapping is an ordered list of rules (first match wins) so
operators can put their own naming in front of the defaults.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

RoleField = Literal["pod", "container", "namespace", "route_name", "upstream_cluster", "file"]
RoleName = Literal["ingress", "waypoint", "sidecar", "ztunnel"]


@dataclass(frozen=True, slots=True)
class RoleRule:
    """``role`` applies to an Envoy record whose ``field`` matches ``pattern`` (``re.search``)."""

    field: RoleField
    pattern: str
    role: RoleName
    compiled: re.Pattern[str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern))


DEFAULT_RULES: tuple[RoleRule, ...] = (
    # Istio and Envoy Gateway waypoints are Deployments named after the Gateway ("waypoint").
    RoleRule("pod", r"waypoint", "waypoint"),
    # Istio waypoint clusters: service VIP traffic and HBONE origination.
    RoleRule("upstream_cluster", r"^inbound-vip\||^connect_originate$", "waypoint"),
    # Envoy Gateway proxies are named envoy-<namespace>-<gateway>-<hash>; Istio gateways *-gateway*.
    RoleRule("pod", r"^envoy-|ingress|gateway", "ingress"),
    # Istio sidecars route to inbound|port|| and outbound|port||host clusters.
    RoleRule("upstream_cluster", r"^(?:inbound|outbound)\|", "sidecar"),
    # Envoy Gateway route names without a known pod: an ingress unless configured otherwise.
    RoleRule("route_name", r"^(?:httproute|grpcroute|tcproute|tlsroute|udproute)/", "ingress"),
)


@dataclass(frozen=True, slots=True)
class RoleMap:
    """Ordered role rules for Envoy records; ztunnel records are always ``ztunnel``."""

    rules: tuple[RoleRule, ...] = DEFAULT_RULES

    @classmethod
    def default(cls) -> RoleMap:
        return cls()

    def with_rules_first(self, *rules: RoleRule) -> RoleMap:
        """A map that tries ``rules`` before the current ones."""
        return RoleMap((*rules, *self.rules))

    def envoy_role(self, values: dict[RoleField, str | None]) -> RoleName | None:
        """The first matching rule's role for an Envoy record, ``None`` when none matches."""
        for rule in self.rules:
            value = values.get(rule.field)
            if value is not None and rule.compiled.search(value):
                return rule.role
        return None
