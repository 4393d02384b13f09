"""The tailer against an in-memory model: random writes, rotations (rename and copytruncate),
truncations, deletions and restarts from checkpoints.

Invariants: per logical file, the lines delivered are exactly the lines written, in order;
a restart re-delivers only what came after the last checkpoint (duplicates within one
checkpoint interval), and after every read everything written has been delivered.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from logwatch.checkpoint import CheckpointStore, FilePosition
from logwatch.daemon_stats import DaemonStats
from logwatch.sources.tail.chunk import FileChunk
from logwatch.sources.tail.fingerprint import path_matches
from logwatch.sources.tail.tailer import Tailer
from tests.sources.tailing import read_once, sources

KEYS = ("a.log", "b.log")
# one rotation strategy per file, as in a real deployment (kubelet renames; logrotate is set
# to rename or to copytruncate): a.log is rotated by rename, b.log by copytruncate, and both
# are truncated by hand and deleted
RENAMED = ("a.log",)
COPYTRUNCATED = ("b.log",)
# file timestamps are kernel-tick grained; real rotations are seconds apart, and resuming
# orders rotated files by modification time
TICK_S = 0.012


class TailerModel(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tailmodel-"))
        self.store = CheckpointStore(self.root / "state")
        self.written: dict[str, list[bytes]] = {k: [] for k in KEYS}
        self.delivered: dict[str, list[bytes]] = {k: [] for k in KEYS}
        self.checkpointed: dict[str, int] = {k: 0 for k in KEYS}  # lines delivered at checkpoint
        self.last_chunk: dict[str, FileChunk] = {}
        self.rotations = 0
        self.serial = 0
        self.restarts = 0
        # whether the last checkpoint holds the key's live file, unchanged since
        self.checkpoint_fresh: dict[str, bool] = {k: False for k in KEYS}
        # keys the last checkpoint does not know that were rotated since: a restart cannot
        # find their rotated file (it is outside the glob), so the model does not restart then
        self.saved_keys: set[str] = set()
        self.unreachable: set[str] = set()
        self._start_tailer({})

    def _start_tailer(self, resume: dict[str, FilePosition]) -> None:
        self.carried = dict(resume)
        self.stats = DaemonStats()
        self.tailer = Tailer(
            sources(self.root / "*.log", deleted_grace_s=0.0),
            max_line_bytes=1 << 16,
            stats=self.stats,
            resume=resume,
        )

    def _path(self, key: str) -> Path:
        return self.root / key

    @rule(key=st.sampled_from(KEYS), count=st.integers(1, 20), width=st.integers(0, 60))
    def write(self, key: str, count: int, width: int) -> None:
        new = []
        for _ in range(count):
            self.serial += 1
            new.append(f"{key}-{self.serial}-{'x' * width}".encode())
        with open(self._path(key), "ab") as handle:
            handle.write(b"".join(line + b"\n" for line in new))
        self.written[key].extend(new)

    @rule()
    def read(self) -> None:
        for chunk in asyncio.run(read_once(self.tailer)):
            self.carried.pop(chunk.key, None)
            if chunk.closed:
                self.last_chunk.pop(chunk.key, None)
                continue
            key = os.path.basename(chunk.key)
            self.delivered[key].extend(chunk.data.splitlines())
            self.last_chunk[chunk.key] = chunk
        for key in KEYS:
            assert self.delivered[key] == self.written[key], key
        assert self.stats.lost_bytes == 0

    @rule()
    def checkpoint(self) -> None:
        """What the daemon saves: the position after the last chunk of each followed file,
        and loaded positions the source has not reported on yet."""
        positions = [p for k, p in self.carried.items() if k not in self.last_chunk]
        for chunk in self.last_chunk.values():
            ident = chunk.identity
            positions.append(
                FilePosition(
                    chunk.key,
                    ident.path,
                    ident.dev,
                    ident.ino,
                    ident.fingerprint,
                    chunk.end_offset,
                    chunk.end_lineno,
                    chunk.file_size,
                )
            )
        self.store.save(positions)
        self.checkpointed = {k: len(v) for k, v in self.delivered.items()}
        # what a restart can find again: checkpointed files that still exist unchanged
        found = {os.path.basename(p.key): self._still_there(p) for p in positions}
        self.checkpoint_fresh = {k: found.get(k) == str(self._path(k)) for k in KEYS}
        self.saved_keys = {k for k, where in found.items() if where is not None}
        self.unreachable = set()

    def _still_there(self, position: FilePosition) -> str | None:
        for candidate in self.root.iterdir():
            if (
                candidate.is_file()
                and candidate.stat().st_ino == position.ino
                and path_matches(str(candidate), position.fingerprint)
            ):
                return str(candidate)
        return None

    @precondition(lambda self: self.restarts < 6 and not self.unreachable)
    @rule()
    def restart(self) -> None:
        """The process dies (close may not run): only the checkpoint survives."""
        self.restarts += 1
        for key in KEYS:
            del self.delivered[key][self.checkpointed[key] :]
        self.last_chunk = {}
        self._start_tailer(self.store.load())

    @precondition(
        lambda self: (
            self.restarts < 6
            and not self.unreachable
            and any(self.checkpoint_fresh[k] for k in RENAMED)
        )
    )
    @rule(data=st.data(), lines_first=st.integers(0, 5))
    def rotate_while_down(self, data: st.DataObject, lines_first: int) -> None:
        """Writes and a rotation while the process is down: resuming finds the rotated file."""
        key = data.draw(st.sampled_from([k for k in RENAMED if self.checkpoint_fresh[k]]))
        self.restarts += 1
        for each in KEYS:
            del self.delivered[each][self.checkpointed[each] :]
        self.last_chunk = {}
        if lines_first:
            self.write(key, lines_first, 10)
        self._rename(key)
        self.write(key, 2, 10)
        self._start_tailer(self.store.load())

    @rule(key=st.sampled_from(RENAMED))
    def rotate_by_rename(self, key: str) -> None:
        """The tailer polls many times between two rotations (kubelet: >= 10 s apart)."""
        self.read()
        self._rename(key)

    def _rename(self, key: str) -> None:
        if self._path(key).exists():
            self.rotations += 1
            os.rename(self._path(key), self.root / f"{key}.{self.rotations}")
            self.checkpoint_fresh[key] = False
            if key not in self.saved_keys:
                self.unreachable.add(key)
            time.sleep(TICK_S)

    @rule(key=st.sampled_from(COPYTRUNCATED))
    def copytruncate(self, key: str) -> None:
        """Bytes written between the last read and the truncation are lost by design of
        copytruncate, so the rotation happens right after a read."""
        self.read()
        self.checkpoint()  # the copy would otherwise be the only place of unread data
        if self._path(key).exists():
            self.rotations += 1
            shutil.copy(self._path(key), self.root / f"{key}.{self.rotations}")
            os.truncate(self._path(key), 0)
            self.checkpoint_fresh[key] = False
            time.sleep(TICK_S)

    @rule(key=st.sampled_from(KEYS))
    def truncate(self, key: str) -> None:
        """Truncation by hand (no copy): read first, since unread bytes would be gone."""
        self.read()
        self.checkpoint()
        if self._path(key).exists():
            os.truncate(self._path(key), 0)
            self.checkpoint_fresh[key] = False
            time.sleep(TICK_S)

    @rule(key=st.sampled_from(KEYS))
    def delete_after_processing(self, key: str) -> None:
        self.read()
        self.checkpoint()
        if self._path(key).exists():
            self._path(key).unlink()
            self.checkpoint_fresh[key] = False
            self.saved_keys.discard(key)
            time.sleep(TICK_S)

    @invariant()
    def delivered_is_a_prefix_of_written(self) -> None:
        if hasattr(self, "written"):
            for key in KEYS:
                assert self.delivered[key] == self.written[key][: len(self.delivered[key])]

    def teardown(self) -> None:
        if hasattr(self, "tailer"):
            self.read()
            self.tailer.close()
            shutil.rmtree(self.root, ignore_errors=True)


TestTailerModel = TailerModel.TestCase
TestTailerModel.settings = settings(
    max_examples=100,
    database=None,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
