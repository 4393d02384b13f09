"""Which files to follow: glob polling (no inotify dependency) plus pod selection.

Each glob match is resolved through symlinks (``/var/log/containers/*.log`` point into
``/var/log/pods``), so a physical file is followed once however many links lead to it, under
the resolved path as its key. Kubernetes log paths are kept only when their namespace, pod
and container match an include selector and no exclude selector; other paths (plain files
named on the command line) are always kept.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from fnmatch import fnmatchcase

from logwatch.config import PodSelector, SourcesConfig
from parsers.k8s_path import PodMeta, pod_meta_from_path


def discover(sources: SourcesConfig) -> list[str]:
    """Resolved paths of the files to follow now, sorted, without duplicates.

    A dangling link still yields its target: during a rotation the live file is briefly
    missing, and dropping its key then would end the follow.
    """
    keys: set[str] = set()
    for pattern in sources.paths:
        for match in glob.glob(pattern):
            key = os.path.realpath(match)
            if key in keys or os.path.isdir(key):
                continue
            if selected(match, key, sources.include, sources.exclude):
                keys.add(key)
    return sorted(keys)


def selected(
    matched: str,
    key: str,
    include: Iterable[PodSelector],
    exclude: Iterable[PodSelector],
) -> bool:
    meta = pod_meta_from_path(key) or pod_meta_from_path(matched)
    if meta is None:
        return True
    if any(_matches(rule, meta) for rule in exclude):
        return False
    return any(_matches(rule, meta) for rule in include)


def _matches(rule: PodSelector, meta: PodMeta) -> bool:
    return (
        fnmatchcase(meta.namespace, rule.namespace)
        and fnmatchcase(meta.pod, rule.pod)
        and fnmatchcase(meta.container, rule.container)
    )
