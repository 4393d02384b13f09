"""Parser options, fixed for the life of a decoder."""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.roles import RoleMap


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How to parse.

    ``max_line_bytes`` caps one logical line (a physical line, or a reassembled CRI/docker
    partial sequence); longer ones are rejected as ``line-too-long``, never fatal.
    ``envoy_text_formats`` are extra Envoy format strings (``%START_TIME% ...``) tried before the
    built-in Istio and Envoy defaults; each is compiled once. ``roles`` maps proxies to hops.
    """

    max_line_bytes: int = 1 << 20
    envoy_text_formats: tuple[str, ...] = ()
    roles: RoleMap = field(default_factory=RoleMap.default)

    def __post_init__(self) -> None:
        if self.max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
