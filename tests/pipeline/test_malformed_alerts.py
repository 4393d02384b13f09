"""Rejected lines reach the alert stage through the pipeline, so `source: malformed` rules
(the built-in ParseErrors) fire the same in replay, backtest and the daemon."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.stage import AlertStage
from logwatch.clock import ManualClock
from logwatch.pipeline.pipeline import Pipeline
from parsers import StreamDecoder
from rules.model import load_rules

RULES = """
rules:
  - name: ManyParseErrors
    kind: threshold
    source: malformed
    group_by: [file, reason]
    window: 1m
    threshold: 3
    severity: warning
    annotations: {summary: "{value} bad lines in {labels.file}"}
"""

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_parse_rejections_fire_a_malformed_rule() -> None:
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    stage = AlertStage(AlertsConfig(), load_rules(RULES), clock=clock, outbox=None)
    pipeline = Pipeline([stage], clock=clock)
    good = (FIXTURES / "envoy-gateway.jsonl").read_bytes()
    garbage = b'{"start_time": "2025-07-18T03:40:00.000Z", "response_code": \n' * 4
    decoder = StreamDecoder("/var/log/pods/default_gw_u/envoy/0.log")
    chunk = decoder.feed(good + garbage)
    assert len(chunk.rejections) == 4
    pipeline.process(chunk)
    pipeline.finish()
    alerts = stage.report()
    assert [a["rule"] for a in alerts] == ["ManyParseErrors"]
    assert alerts[0]["labels"]["file"] == "/var/log/pods/default_gw_u/envoy/0.log"
    assert alerts[0]["events"] == 4


def test_a_few_rejections_stay_below_the_threshold() -> None:
    clock = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    stage = AlertStage(AlertsConfig(), load_rules(RULES), clock=clock, outbox=None)
    pipeline = Pipeline([stage], clock=clock)
    decoder = StreamDecoder("x.log")
    pipeline.process(decoder.feed((FIXTURES / "envoy-gateway.jsonl").read_bytes() + b"{oops\n"))
    pipeline.finish()
    assert stage.report() == []
