"""Decoding chunks per file, the pipeline, and checkpoint positions (real decoder, real files)."""

from __future__ import annotations

import os
from pathlib import Path

from logwatch.checkpoint import CheckpointStore
from logwatch.clock import WallClock
from logwatch.daemon.ingest import Ingest
from logwatch.daemon_stats import DaemonStats
from logwatch.pipeline.pipeline import Pipeline
from parsers.options import ParseOptions
from tests.daemon.records import Collect, cri, envoy_json
from tests.sources.tailing import append, make_tailer, read_once


def _ingest(tmp_path: Path, stage: Collect, stats: DaemonStats) -> tuple[Ingest, CheckpointStore]:
    store = CheckpointStore(tmp_path / "state")
    pipeline = Pipeline([stage], clock=WallClock(), daemon_stats=stats)
    return Ingest(pipeline, ParseOptions(), store, stats), store


async def test_cri_partial_sequence_straddling_a_rotation_is_one_record(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    line = envoy_json("straddle")
    append(live, cri(envoy_json("before")), cri(line[:200], "P"))
    stats = DaemonStats()
    stage = Collect()
    tailer, _ = make_tailer(live, stats=stats)
    ingest, _ = _ingest(tmp_path, stage, stats)
    ingest.process(await read_once(tailer))
    os.rename(live, tmp_path / "0.log.1")
    append(live, cri(line[200:]))
    ingest.process(await read_once(tailer))
    assert stage.request_ids() == ["before", "straddle"]
    assert stats.rotations == 1 and not stats.malformed_by_reason


async def test_checkpoint_points_before_an_unfinished_partial_and_resumes_it(
    tmp_path: Path,
) -> None:
    live = tmp_path / "0.log"
    line = envoy_json("split")
    append(live, cri(envoy_json("first")), cri(line[:300], "P"))
    stats = DaemonStats()
    stage = Collect()
    tailer, _ = make_tailer(live, stats=stats)
    ingest, store = _ingest(tmp_path, stage, stats)
    ingest.process(await read_once(tailer))
    assert ingest.commit()
    (position,) = store.load().values()
    first_line_bytes = len(cri(envoy_json("first"))) + 1
    assert (position.offset, position.lineno) == (first_line_bytes, 2)
    tailer.close()

    # restart: a new process knows only the checkpoint
    append(live, cri(line[300:]))
    again = Collect()
    tailer2, _ = make_tailer(live, resume=store.load())
    ingest2, _ = _ingest(tmp_path, again, DaemonStats())
    ingest2.process(await read_once(tailer2))
    assert stage.request_ids() == ["first"]
    assert again.request_ids() == ["split"]
    assert again.frames[0].get_column("lineno").to_list() == [2]


async def test_failed_flush_does_not_advance_the_checkpoint(tmp_path: Path) -> None:
    live = tmp_path / "a.log"
    append(live, envoy_json("r1"))
    stats = DaemonStats()
    stage = Collect()
    tailer, _ = make_tailer(live, stats=stats)
    ingest, store = _ingest(tmp_path, stage, stats)
    ingest.process(await read_once(tailer))
    assert ingest.commit()
    append(live, envoy_json("r2"))
    ingest.process(await read_once(tailer))
    stage.fail_flush = True
    assert not ingest.commit()
    (position,) = store.load().values()
    assert position.lineno == 2
    stage.fail_flush = False
    assert ingest.commit()
    (position,) = store.load().values()
    assert position.lineno == 3 and stats.records == 2 and stats.lines == 2


async def test_deleted_file_leaves_the_checkpoint(tmp_path: Path) -> None:
    live = tmp_path / "a.log"
    append(live, envoy_json("r1"))
    stats = DaemonStats()
    tailer, _ = make_tailer(live, stats=stats)
    ingest, store = _ingest(tmp_path, Collect(), stats)
    ingest.process(await read_once(tailer))
    assert ingest.commit() and len(store.load()) == 1
    live.unlink()
    ingest.process(await read_once(tailer))
    assert ingest.commit() and store.load() == {}
