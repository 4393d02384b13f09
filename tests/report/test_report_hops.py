"""The `hops` section and `--paths` come from the correlator, counted as RECORD.md defines."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.report.conftest import Node, run_logwatch


def test_hops_counts_request_ids_and_paths_are_written(node: Node, tmp_path: Path) -> None:
    paths_file = tmp_path / "paths.ndjson"
    done = run_logwatch("replay", str(node.root), "-o", "json", "--paths", str(paths_file))
    assert done.returncode == 0, done.stderr.decode()
    hops = orjson.loads(done.stdout)["hops"]
    t = node.truth
    # requests: distinct x-request-id over Envoy records; multi_hop: seen by >= 2 proxies
    assert hops["requests"] == len(t.request_pods)
    assert hops["multi_hop"] == t.multi_hop > 0
    paths = [orjson.loads(line) for line in paths_file.read_bytes().splitlines()]
    by_id = {p["request_id"]: p for p in paths}
    assert set(by_id) == set(t.request_pods)
    assert sum(p["multi_hop"] for p in paths) == t.multi_hop
