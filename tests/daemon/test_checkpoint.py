from __future__ import annotations

from pathlib import Path

from logwatch.checkpoint import CheckpointStore, FilePosition


def _position(key: str, offset: int) -> FilePosition:
    return FilePosition(key, key, 1, 2, "3:abc", offset, 7, offset + 10)


def test_save_then_load_round_trips_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state")
    store.save([_position("/b", 5), _position("/a", 9)])
    store.save([_position("/a", 11)])
    assert store.load() == {"/a": _position("/a", 11)}
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["checkpoints.json"]


def test_missing_checkpoint_is_empty(tmp_path: Path) -> None:
    assert CheckpointStore(tmp_path).load() == {}


def test_corrupt_checkpoint_is_moved_aside_not_fatal(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.path.write_bytes(b'{"version": 1, "files": [{"key": ')
    assert store.load() == {}
    assert not store.path.exists()
    assert len(list(tmp_path.glob("checkpoints.json.corrupt-*"))) == 1


def test_unknown_version_is_not_trusted(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.path.write_bytes(b'{"version": 99, "files": []}')
    assert store.load() == {}
