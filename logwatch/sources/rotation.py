"""Which files are one log stream, and in which order they were written.

kubelet rotates ``N.log`` to ``N.log.<YYYYMMDD-hhmmss>`` and later gzips that to
``N.log.<stamp>.gz`` (FORMATS.md §4.4); logrotate-style files ``name.1``, ``name.2.gz`` (a
higher number is older) are understood too. The rotated files of a log, oldest first, then
the live file, form one stream: they are read through one decoder so a CRI ``P…F`` sequence
cut by a rotation is reassembled.

When both ``N.log.<stamp>`` and ``N.log.<stamp>.gz`` exist, kubelet was interrupted while
compressing; the ``.gz`` is complete (kubelet writes it via a ``.tmp`` and treats the plain
file as the leftover), so the ``.gz`` is read and the plain file skipped. ``*.tmp`` files are
unfinished compressions and are never read.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_KUBELET = re.compile(r"^(?P<base>.+\.log)\.(?P<stamp>\d{8}-\d{6})(?P<gz>\.gz)?$")
_NUMBERED = re.compile(r"^(?P<base>.+)\.(?P<number>\d{1,4})(?P<gz>\.gz)?$")


@dataclass(frozen=True, slots=True)
class RotationSet:
    """One log stream: ``parts`` in the order they were written (oldest first)."""

    name: str  # the live file's path (it need not exist any more)
    parts: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class _Part:
    path: Path
    base: Path  # the live file this part belongs to
    order: tuple[int, str]  # sorts oldest first; the live file sorts last
    gz: bool


def _classify(path: Path) -> _Part:
    match = _KUBELET.match(path.name)
    if match is not None:
        return _Part(path, path.with_name(match["base"]), (0, match["stamp"]), bool(match["gz"]))
    match = _NUMBERED.match(path.name)
    if match is not None:
        # logrotate: name.1 is newer than name.2; sort by descending number
        order = (0, f"{10**4 - int(match['number']):05d}")
        return _Part(path, path.with_name(match["base"]), order, bool(match["gz"]))
    return _Part(path, path, (1, ""), False)


def is_unfinished(path: Path) -> bool:
    """A file kubelet is still writing for compression (never read)."""
    return path.name.endswith(".tmp")


def rotated_siblings(live: Path) -> list[Path]:
    """kubelet's rotated files of the live file ``live`` (``<name>.<stamp>[.gz]``), unsorted."""
    try:
        names = os.listdir(live.parent)
    except OSError:
        return []
    siblings = []
    for name in names:
        match = _KUBELET.match(name)
        if match is not None and match["base"] == live.name:
            siblings.append(live.parent / name)
    return siblings


def rotation_sets(files: Iterable[Path]) -> list[RotationSet]:
    """Group ``files`` into streams, each with its parts in rotation order.

    Only the given files are grouped (a live file alone is a stream of one part); the result is
    sorted by stream name so replays are reproducible.
    """
    by_base: dict[Path, dict[tuple[int, str], _Part]] = defaultdict(dict)
    names: dict[Path, Path] = {}
    for path in files:
        if is_unfinished(path):
            continue
        part = _classify(path)
        # Group by the real directory, so one log reached by two spellings (a symlinked
        # parent, a relative path) is still one stream; name it as first seen.
        key = part.base.parent.resolve() / part.base.name
        names.setdefault(key, part.base)
        seen = by_base[key].get(part.order)
        # Same rotation slot twice: plain + .gz of one stamp; the .gz is the complete one.
        if seen is None or (part.gz and not seen.gz):
            by_base[key][part.order] = part
    return [
        RotationSet(name=str(names[key]), parts=tuple(parts[o].path for o in sorted(parts)))
        for key, parts in sorted(by_base.items())
    ]
