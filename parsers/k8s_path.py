"""Pod, namespace and container from a kubelet log path.

kubelet writes ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`` (rotated
files add ``.<YYYYMMDD-hhmmss>`` and later ``.gz``) and links
``/var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log`` to it. Pod names cannot
contain ``_``, so both layouts split unambiguously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PODS = re.compile(
    r"(?:^|/)pods/(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_[^/_]+/(?P<container>[^/]+)/\d+\.log(?:\.[^/]*)?$"
)
_CONTAINERS = re.compile(
    r"(?:^|/)containers/(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-[0-9a-f]{64}\.log$"
)


@dataclass(frozen=True, slots=True)
class PodMeta:
    pod: str
    namespace: str
    container: str


def pod_meta_from_path(path: str | None) -> PodMeta | None:
    """The pod identity encoded in ``path``, or ``None`` when the path has neither layout."""
    if not path:
        return None
    for pattern in (_PODS, _CONTAINERS):
        match = pattern.search(path)
        if match is not None:
            return PodMeta(match["pod"], match["namespace"], match["container"])
    return None
