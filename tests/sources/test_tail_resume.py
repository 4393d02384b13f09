"""Resuming from checkpointed positions: same file, rotated while down, gone, inode reused."""

from __future__ import annotations

import os
from pathlib import Path

from logwatch.checkpoint import FilePosition
from logwatch.sources.tail.chunk import FileChunk
from logwatch.sources.tail.fingerprint import fingerprint_of
from tests.sources.tailing import append, lines, make_tailer, numbered, read_once


def position_after(chunks: list[FileChunk]) -> FilePosition:
    """What the daemon checkpoints after delivering ``chunks`` (no partial sequences)."""
    last = chunks[-1]
    ident = last.identity
    return FilePosition(
        key=last.key,
        path=ident.path,
        dev=ident.dev,
        ino=ident.ino,
        fingerprint=ident.fingerprint,
        offset=last.end_offset,
        lineno=last.end_lineno,
        size=last.file_size,
    )


async def test_restart_resumes_exactly_after_the_checkpoint(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "a1", "a2")
    tailer, _ = make_tailer(live)
    position = position_after(await read_once(tailer))
    tailer.close()
    append(live, "a3")
    resumed, _ = make_tailer(live, resume={position.key: position})
    assert numbered(await read_once(resumed)) == [(3, b"a3")]


async def test_rotated_while_down_finishes_rotated_file_then_new_one(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    append(live, "a1")
    tailer, _ = make_tailer(live)
    position = position_after(await read_once(tailer))
    tailer.close()
    append(live, "a2")
    os.rename(live, tmp_path / "0.log.20250718-033320")
    append(live, "b1")
    resumed, stats = make_tailer(live, resume={position.key: position})
    chunks = await read_once(resumed)
    assert lines(chunks) == [b"a2", b"b1"]
    assert stats.lost_bytes == 0


async def test_rotated_file_deleted_while_down_counts_lost_bytes(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    append(live, "a1")
    tailer, _ = make_tailer(live)
    await read_once(tailer)
    append(live, "a2-unread")
    tailer.close()
    # the daemon checkpointed after a1, and saw the file at its grown size
    position = position_after(await read_once(make_tailer(live)[0]))
    position = FilePosition(**{**_fields(position), "offset": 3, "lineno": 2})
    rotated = tmp_path / "0.log.1"
    os.rename(live, rotated)
    rotated.unlink()
    append(live, "b1")
    resumed, stats = make_tailer(live, resume={position.key: position})
    assert lines(await read_once(resumed)) == [b"b1"]
    assert stats.lost_bytes == len(b"a2-unread\n")


async def test_reused_inode_with_other_content_is_not_resumed_at_old_offset(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "new-content-1", "new-content-2")
    st = live.stat()
    # a checkpoint of an earlier file that had this very inode but other first bytes
    stale = FilePosition(
        key=str(live),
        path=str(live),
        dev=st.st_dev,
        ino=st.st_ino,
        fingerprint=fingerprint_of(b"old-content-1\n"),
        offset=14,
        lineno=2,
        size=14,
    )
    resumed, stats = make_tailer(live, resume={stale.key: stale})
    assert lines(await read_once(resumed)) == [b"new-content-1", b"new-content-2"]
    assert stats.lost_bytes == 0  # offset == size: nothing was unread


async def test_copytruncated_while_down_finishes_the_copy_then_reads_live(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "a1")
    tailer, _ = make_tailer(live)
    position = position_after(await read_once(tailer))
    tailer.close()
    append(live, "a2")
    (tmp_path / "app.log.1").write_bytes(live.read_bytes())
    os.truncate(live, 0)
    append(live, "b1")
    resumed, _ = make_tailer(live, resume={position.key: position})
    assert lines(await read_once(resumed)) == [b"a2", b"b1"]


def _fields(position: FilePosition) -> dict[str, object]:
    return {name: getattr(position, name) for name in FilePosition.__dataclass_fields__}
