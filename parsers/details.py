"""``%RESPONSE_CODE_DETAILS%``: the reset reason inside ``upstream_reset_*{...}``."""

from __future__ import annotations

import re

_RESET = re.compile(r"upstream_reset_(?:before|after)_response_started\{([^|,}]*)")


def reset_reason(details: str | None) -> str | None:
    """First token inside the braces of ``upstream_reset_{before,after}_response_started{...}``.

    The brace content is split on ``|`` and ``,`` (Envoy changed separators over versions);
    the first token is ``Http::Utility::resetReasonToString`` with spaces as ``_``, e.g.
    ``overflow``. ``None`` for any other details value or an empty first token.
    """
    if details is None:
        return None
    match = _RESET.match(details)
    if match is None:
        return None
    return match.group(1) or None
