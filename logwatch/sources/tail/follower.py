"""One logical log file (a path the glob matched), followed across rotations.

The follower holds the file it is reading plus, after a rotation by rename, the newer files
that appeared at the path, all open by descriptor: a renamed or deleted file is still read to
its end through its handle, then the next one from offset 0, so a rotation loses nothing while
the daemon runs. The switch happens only once the writer has moved on (the newer file has data,
or the old one stopped growing for ``grace_s``), because a runtime may append to the renamed
file until it reopens.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque

from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk
from logwatch.sources.tail.openfile import OpenFile, ReadLimits
from logwatch.sources.tail.resume import rotated_after

log = logging.getLogger("logwatch.tail")

HELD_MEMORY = 64  # rotated files remembered per logical file


class Follower:
    """Reads one logical file; see the module docstring for the rotation rules."""

    def __init__(self, key: str, files: list[OpenFile], grace_s: float) -> None:
        if not files:
            raise ValueError("a follower needs at least one open file")
        self.key = key
        self.files: deque[OpenFile] = deque(files)
        self.grace_s = grace_s
        self.missing_since: float | None = None
        # (dev, inode) of files this follower opened, newest last: never read twice
        self.held: dict[tuple[int, int], OpenFile] = {}
        for opened in files:
            self._hold(opened)

    def _hold(self, opened: OpenFile) -> None:
        self.held[(opened.dev, opened.ino)] = opened
        while len(self.held) > HELD_MEMORY:
            del self.held[next(iter(self.held))]

    @property
    def current(self) -> OpenFile:
        return self.files[0]

    def check_path(self, stats: DaemonStats) -> None:
        """Compare the file now at ``key`` with the newest one held: open it on rotation."""
        try:
            st = os.stat(self.key)
        except FileNotFoundError:
            if self.missing_since is None:
                self.missing_since = time.monotonic()
            return
        self.missing_since = None
        if self.files[-1].same_file(st):
            return
        try:
            newer = OpenFile.open(self.key)
        except OSError:
            return  # replaced again or unreadable right now: the next poll retries
        skipped: list[OpenFile] = []
        if os.fstat(self.files[-1].fd).st_nlink > 0:
            # renamed, not deleted: files rotated more than once since the last look sit
            # between the two; hold them too
            held = {key: opened.fingerprint for key, opened in self.held.items()}
            held[(newer.dev, newer.ino)] = newer.fingerprint
            skipped = rotated_after(self.files[-1], self.key, held)
        for between in [*skipped, newer]:
            between.starts_new_file = True
            self.files.append(between)
            self._hold(between)
        stats.rotations += 1 + len(skipped)
        log.info("file rotated", extra={"path": self.key, "previous": self.current.path})

    def read(
        self, limits: ReadLimits, stats: DaemonStats, *, eager: bool = False
    ) -> FileChunk | None:
        """The next whole lines of this logical file, or None when nothing is ready.

        ``eager`` switches to a newer file as soon as the old one is at its end (used when
        reading what is there once, with no writer to wait for).
        """
        while True:
            current = self.current
            current.refresh(stats)
            chunk = current.read_lines(self.key, limits, stats)
            if chunk is not None:
                return chunk
            if len(self.files) == 1:
                return None
            newer = self.files[1]
            newer.refresh(stats)
            idle = time.monotonic() - current.last_growth
            if not (eager or newer.size > 0 or idle >= self.grace_s):
                return None
            # the writer moved on: anything it appended before doing so is read first
            current.refresh(stats)
            chunk = current.read_lines(self.key, limits, stats)
            if chunk is not None:
                return chunk
            if current.skipping or current.remaining():
                # an unfinished last line in a file nobody writes any more
                log.warning(
                    "rotated file ends without a newline; its last line is dropped",
                    extra={"path": current.path, "lost_bytes": current.remaining()},
                )
                stats.lost_bytes += current.remaining()
            current.close()
            self.files.popleft()
            newer.refresh(stats)
            chunk = newer.read_lines(self.key, limits, stats)
            # announce the switch even before the new file has a whole line, so its position
            # (offset 0) is what gets checkpointed from now on
            return chunk if chunk is not None else newer.announce(self.key)

    def finished(self, *, eager: bool = False) -> bool:
        """Deleted (or gone from the glob), fully read, and quiet for the grace period."""
        if self.missing_since is None or len(self.files) > 1:
            return False
        current = self.current
        if current.remaining():
            return False
        quiet = time.monotonic() - max(current.last_growth, self.missing_since)
        return eager or quiet >= self.grace_s

    def lag_bytes(self) -> int:
        return sum(f.remaining() for f in self.files)

    def close(self) -> None:
        """Idempotent."""
        while self.files:
            self.files.popleft().close()
