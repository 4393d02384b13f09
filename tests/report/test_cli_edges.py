"""Edge inputs and configuration of `logwatch replay`: empty input, garbage, --config."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.report.conftest import Node, run_logwatch
from tests.scenario import write_eg_jsonl


def test_empty_file_gives_an_empty_report(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    done = run_logwatch("replay", str(empty), "-o", "json")
    assert done.returncode == 0, done.stderr.decode()
    doc = orjson.loads(done.stdout)
    assert doc["input"] == {"files": 1, "lines": 0, "records": 0, "ignored": 0, "malformed": 0}
    assert doc["time_range"] == {"start": None, "end": None}
    assert doc["routes"] == [] and doc["upstream_clusters"] == []
    assert doc["ztunnel"] == {"connections": 0, "errors": 0, "by_error_class": {}}
    table = run_logwatch("replay", str(empty))
    assert table.returncode == 0 and b"records=0" in table.stdout


def test_garbage_is_counted_and_reported_never_fatal(tmp_path: Path) -> None:
    junk = tmp_path / "junk.log"
    junk.write_bytes(b'hello\n\x00\x01\x02 binary\n{"start_time": \n' + b"\xff\xfe\n")
    done = run_logwatch("replay", str(junk), "-o", "json")
    assert done.returncode == 0, done.stderr.decode()
    doc = orjson.loads(done.stdout)
    assert doc["input"]["lines"] == 4
    assert doc["input"]["malformed"] + doc["input"]["ignored"] == 4
    reported = [
        line for line in done.stderr.splitlines() if line.startswith(b"logwatch: malformed line ")
    ]
    assert len(reported) == doc["input"]["malformed"] > 0
    assert all(str(junk).encode() in line for line in reported)


def test_config_file_sets_parser_limits_and_disables_correlation(tmp_path: Path) -> None:
    log = tmp_path / "eg.jsonl"
    write_eg_jsonl(log, lines=200, minutes=2)
    with log.open("ab") as out:
        out.write(b'{"start_time":"2025-07-18T03:00:00.000Z","x":"' + b"y" * 5000 + b'"}\n')
    config = tmp_path / "logwatch.yaml"
    config.write_text("parse:\n  max_line_bytes: 2048\ncorrelation:\n  enabled: false\n")
    done = run_logwatch("replay", str(log), "-o", "json", "--config", str(config))
    assert done.returncode == 0, done.stderr.decode()
    doc = orjson.loads(done.stdout)
    assert doc["input"] == {"files": 1, "lines": 201, "records": 200, "ignored": 0, "malformed": 1}
    assert b"line-too-long" in done.stderr
    assert "hops" not in doc


def test_invalid_config_is_a_usage_error(tmp_path: Path, node: Node) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("parse:\n  max_line_bytes: 1\n")
    done = run_logwatch("replay", str(node.root), "--config", str(config))
    assert done.returncode == 2
    assert b"parse.max_line_bytes" in done.stderr
