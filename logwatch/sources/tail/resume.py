"""Finding where to resume a logical file after a restart, from its checkpointed position.

The checkpointed physical file is looked for by fingerprint (first bytes), preferring the
recorded path and inode, then any other file in the same directory (a rotated name such as
``0.log.20250718-033320`` or ``x.log.1``). Files rotated after it (same directory, name
starting with the live file's name, modified later) follow from offset 0, oldest first, then
the live file at the key when it is a different file. When the checkpointed file is gone (rotated and deleted while
the daemon was down), the bytes it still had unread are counted and logged as lost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from logwatch.checkpoint import FilePosition
from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.fingerprint import fd_matches
from logwatch.sources.tail.openfile import OpenFile

log = logging.getLogger("logwatch.tail")

# never candidates for live reading: compressed or half-written rotations
_SKIP_SUFFIXES = (".gz", ".tmp", ".zst", ".bz2", ".xz")


def open_resumed(position: FilePosition, stats: DaemonStats) -> list[OpenFile]:
    """The files to read for ``position.key``, oldest first (empty if nothing is there).

    Raises nothing for missing files; unreadable ones are skipped like missing ones.
    """
    found = _find_checkpointed(position)
    files: list[OpenFile] = []
    if found is None:
        lost = max(0, position.size - position.offset)
        if lost:
            stats.lost_bytes += lost
            log.error(
                "checkpointed file is gone; its unread bytes are lost",
                extra={"path": position.path, "key": position.key, "lost_bytes": lost},
            )
    else:
        files.append(found)
    try:
        live: OpenFile | None = OpenFile.open(position.key)
    except OSError:
        live = None
    if found is not None and not (live is not None and found.same_file(os.fstat(live.fd))):
        held = {} if live is None else {(live.dev, live.ino): live.fingerprint}
        files.extend(rotated_after(found, position.key, held))
    if live is not None:
        if any(f.same_file(os.fstat(live.fd)) for f in files):
            live.close()
        else:
            files.append(live)
    for later in files[1:]:
        later.starts_new_file = True
    return files


def rotated_after(found: OpenFile, key: str, held: Mapping[tuple[int, int], str]) -> list[OpenFile]:
    """Rotated files of ``key`` newer than ``found``, oldest first: same directory, name
    starting with the live file's name, modified since ``found`` (file times are tick-grained,
    so the same tick counts as newer). ``held`` maps (dev, inode) of files already read to
    their fingerprint: those are skipped unless the inode now holds other content (reused)."""
    directory, name = os.path.split(key)
    since = os.fstat(found.fd).st_mtime_ns
    newer: list[tuple[int, str]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(name) or entry.name.endswith(_SKIP_SUFFIXES):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (found.dev, found.ino):
            continue
        if st.st_mtime_ns >= since and entry.is_file(follow_symlinks=False):
            newer.append((st.st_mtime_ns, entry.path))
    opened: list[OpenFile] = []
    for _, path in sorted(newer):
        try:
            candidate = OpenFile.open(path)
        except OSError:
            continue
        known = held.get((candidate.dev, candidate.ino))
        if known is not None and fd_matches(candidate.fd, known):
            candidate.close()
            continue
        opened.append(candidate)
    return opened


def _find_checkpointed(position: FilePosition) -> OpenFile | None:
    for path in _candidates(position):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            # a fingerprint taken from an empty file says nothing about the content: only
            # the same inode may be that file
            same = (st.st_dev, st.st_ino) == (position.dev, position.ino)
            if not position.fingerprint and not same:
                os.close(fd)
                continue
            if st.st_size >= position.offset and fd_matches(fd, position.fingerprint):
                return OpenFile(path, fd, position.offset, position.lineno)
        except OSError:
            pass
        os.close(fd)
    return None


def _candidates(position: FilePosition) -> list[str]:
    """Same-inode files first (a rename keeps the inode; the fingerprint check rejects a
    reused one), then the recorded path, then every other sibling."""
    directories = {os.path.dirname(position.path), os.path.dirname(position.key)}
    ranked: list[tuple[int, str]] = [(1, position.path)]
    for directory in sorted(directories):
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(_SKIP_SUFFIXES):
                continue
            try:
                if not entry.is_file():
                    continue
                same_inode = entry.inode() == position.ino
            except OSError:
                continue
            if same_inode:
                ranked.append((0, entry.path))
            elif entry.path != position.path:
                ranked.append((2, entry.path))
    ordered: list[str] = []
    for _, path in sorted(ranked):
        if path not in ordered:
            ordered.append(path)
    return ordered
