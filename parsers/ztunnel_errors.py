"""Classify a ztunnel ``error`` text (Rust ``Display`` of ``proxy::Error``) into a stable class.

ztunnel logs no response flags, so the class is the only machine-readable cause. Checks run in
order; the first match wins, and anything unrecognized is ``other`` (never dropped).
"""

from __future__ import annotations

import re

_HTTP_STATUS = re.compile(r"http status: (\d{3})")

# (class, substrings) in priority order; matching is on the lower-cased text.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("policy_denied", ("policy rejection", "policy change")),
    ("drain", ("connection drain", "failed to drain")),
    ("unknown_workload", ("failed to fetch information about local workload",)),
    ("no_healthy_upstream", ("no healthy upstream",)),
    (
        "routing",
        (
            "no service or workload for hostname",
            "unknown waypoint",
            "no valid routing destination",
            "unknown service",
            "no ip addresses were resolved",
        ),
    ),
    ("connect_timeout", ("connection timed out", "deadline has elapsed", "timed out")),
    ("connection_refused", ("connection refused",)),
    ("tls", ("tls error", "identity error", "certificate", "by crl", "tls handshake")),
    ("http2", ("http2 handshake failed", "h2 failed", "http2 error", "h2 error")),
    ("disconnect", ("disconnected before all data was written",)),
)


def classify_error(error: str | None) -> str | None:
    """The ``error_class`` of a ztunnel error text; ``None`` when there is no error."""
    if error is None:
        return None
    status = _HTTP_STATUS.search(error)
    if status is not None and not error.startswith(("connection closed due to",)):
        return "policy_denied" if status.group(1) == "401" else "upstream_status"
    text = error.lower()
    for error_class, needles in _RULES:
        if any(needle in text for needle in needles):
            return error_class
    return "other"
