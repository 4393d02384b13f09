"""One scenario per tailer case, on real files in a temp dir."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

from logwatch.sources.tail.chunk import FileChunk
from tests.sources.tailing import append, lines, make_tailer, numbered, read_once


async def test_symlinked_file_is_followed_once_under_its_target(tmp_path: Path) -> None:
    pod_dir = tmp_path / "pods" / "istio-system_ztunnel-abcde_uid1" / "istio-proxy"
    pod_dir.mkdir(parents=True)
    target = pod_dir / "0.log"
    append(target, "one", "two")
    links = tmp_path / "containers"
    links.mkdir()
    link = links / f"ztunnel-abcde_istio-system_istio-proxy-{'a' * 64}.log"
    link.symlink_to(target)
    tailer, _ = make_tailer(links / "*.log", tmp_path / "pods" / "*" / "*" / "*.log")
    chunks = await read_once(tailer)
    assert {c.key for c in chunks} == {str(target)}
    assert lines(chunks) == [b"one", b"two"]


async def test_pod_selection_keeps_only_matching_containers(tmp_path: Path) -> None:
    kept = tmp_path / "pods" / "default_envoy-gw-1_uid" / "envoy" / "0.log"
    dropped = tmp_path / "pods" / "default_productpage-1_uid" / "app" / "0.log"
    for path in (kept, dropped):
        path.parent.mkdir(parents=True)
        append(path, "x")
    tailer, _ = make_tailer(tmp_path / "pods" / "*" / "*" / "*.log")
    chunks = await read_once(tailer)
    assert {c.key for c in chunks} == {str(kept)}


async def test_rotation_by_rename_finishes_old_file_then_reads_new(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "a1", "a2")
    tailer, stats = make_tailer(live)
    first = await read_once(tailer)
    append(live, "a3")  # written before the rotation, not yet read
    os.rename(live, tmp_path / "app.log.20250718-033320")
    append(live, "b1", "b2")
    second = await read_once(tailer)
    assert lines(first + second) == [b"a1", b"a2", b"a3", b"b1", b"b2"]
    assert stats.rotations == 1
    new_file = [c for c in second if c.new_file]
    assert len(new_file) == 1 and new_file[0].data.startswith(b"b1")
    assert numbered(second)[-2:] == [(1, b"b1"), (2, b"b2")]


async def test_rotation_waits_while_writer_still_appends_to_renamed_file(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    rotated = tmp_path / "app.log.1"
    append(live, "a1")
    tailer, stats = make_tailer(live, deleted_grace_s=5.0)
    stop = asyncio.Event()
    got: list[FileChunk] = []

    async def emit(chunk: FileChunk) -> None:
        got.append(chunk)

    task = asyncio.create_task(tailer.run(emit, stop))
    await _until(lambda: lines(got) == [b"a1"])
    os.rename(live, rotated)
    live.touch()  # the runtime created the new file but has not reopened yet
    await _until(lambda: stats.rotations == 1)
    append(rotated, "a2")  # still written through the old handle
    await _until(lambda: lines(got) == [b"a1", b"a2"])
    append(live, "b1")
    await _until(lambda: b"b1" in lines(got))
    stop.set()
    await task
    assert lines(got) == [b"a1", b"a2", b"b1"]
    assert [c.new_file for c in got if c.data] == [False, False, True]


async def test_copytruncate_reads_new_content_from_start_and_counts(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "a1", "a2", "a3")
    tailer, stats = make_tailer(live)
    await read_once(tailer)
    shutil.copy(live, tmp_path / "app.log.1")
    os.truncate(live, 0)
    append(live, "b1")
    chunks = await read_once(tailer)
    assert lines(chunks) == [b"b1"]
    assert chunks[0].new_file and chunks[0].start_offset == 0 and chunks[0].start_lineno == 1
    assert stats.truncations == 1


async def test_truncation_followed_by_longer_rewrite_is_detected_by_first_bytes(
    tmp_path: Path,
) -> None:
    live = tmp_path / "app.log"
    append(live, "a1", "a2")
    tailer, stats = make_tailer(live)
    await read_once(tailer)
    os.truncate(live, 0)
    append(live, "b1-much-longer-than-before", "b2-also-long-enough-to-pass-offset")
    chunks = await read_once(tailer)
    assert lines(chunks) == [b"b1-much-longer-than-before", b"b2-also-long-enough-to-pass-offset"]
    assert stats.truncations == 1


async def test_deleted_file_is_read_to_its_end_through_the_handle_then_closed(
    tmp_path: Path,
) -> None:
    live = tmp_path / "app.log"
    append(live, "a1")
    tailer, stats = make_tailer(live)
    await read_once(tailer)
    append(live, "a2")
    live.unlink()
    chunks = await read_once(tailer)
    assert lines(chunks) == [b"a2"]
    assert chunks[-1].closed and chunks[-1].key == str(live)
    assert stats.files_followed == 0 and stats.lost_bytes == 0


async def test_files_appearing_later_are_picked_up_from_offset_zero(tmp_path: Path) -> None:
    tailer, stats = make_tailer(tmp_path / "*.log")
    assert await read_once(tailer) == []  # nothing to follow yet
    later = tmp_path / "later.log"
    append(later, "x1", "x2")
    chunks = await read_once(tailer)
    assert lines(chunks, later) == [b"x1", b"x2"] and chunks[0].start_offset == 0
    assert stats.files_followed == 1


async def test_last_line_without_newline_is_held_until_complete(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "whole")
    append(live, "half", newline=False)
    tailer, stats = make_tailer(live)
    assert lines(await read_once(tailer)) == [b"whole"]
    assert stats.lag_bytes[str(live)] == len("half")
    append(live, "-done")
    assert lines(await read_once(tailer)) == [b"half-done"]


async def test_line_over_cap_is_counted_and_skipped_in_bounded_reads(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "before", "x" * 50_000, "after")
    tailer, stats = make_tailer(live, max_line_bytes=1000, read_chunk_bytes=4096)
    chunks = await read_once(tailer)
    assert numbered(chunks) == [(1, b"before"), (3, b"after")]
    assert stats.lines_too_long == 1
    assert max(len(c.data) for c in chunks) <= 4096


async def test_line_over_cap_still_being_written_does_not_buffer(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "y" * 30_000, newline=False)
    tailer, stats = make_tailer(live, max_line_bytes=1000, read_chunk_bytes=4096)
    assert lines(await read_once(tailer)) == []
    append(live, "y" * 10, "next")
    assert numbered(await read_once(tailer)) == [(2, b"next")]
    assert stats.lines_too_long == 1


async def test_hundreds_of_files_share_one_loop_without_threads(tmp_path: Path) -> None:
    paths = [tmp_path / f"f{i:03}.log" for i in range(300)]
    for index, path in enumerate(paths):
        append(path, *(f"{index}-{n}" for n in range(5)))
    threads_before = threading.active_count()
    tailer, stats = make_tailer(tmp_path / "*.log")
    chunks = await read_once(tailer)
    assert threading.active_count() == threads_before
    assert stats.files_followed == 300
    for index, path in enumerate(paths):
        assert lines(chunks, path) == [f"{index}-{n}".encode() for n in range(5)]
    tailer.close()
    tailer.close()  # idempotent


async def _until(condition: object, limit_s: float = 5.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 - the tailer polls; so does the test
            await asyncio.sleep(0.01)


async def test_switch_to_an_empty_new_file_is_announced(tmp_path: Path) -> None:
    live = tmp_path / "app.log"
    append(live, "a1")
    tailer, _ = make_tailer(live)
    await read_once(tailer)
    os.rename(live, tmp_path / "app.log.1")
    live.touch()
    chunks = await read_once(tailer)
    assert [(c.data, c.new_file, c.start_offset, c.identity.ino) for c in chunks] == [
        (b"", True, 0, live.stat().st_ino)
    ]
