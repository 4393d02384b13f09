"""The console notifier: one readable, single line per alert."""

from __future__ import annotations

import pytest

from logwatch.notify.config import ConsoleReceiver
from logwatch.notify.console import ConsoleNotifier
from tests.notify.conftest import make_alert, make_notification, resolved


async def test_one_line_per_alert_and_no_forged_lines(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = ConsoleNotifier(ConsoleReceiver(name="console"))
    forged = make_alert(
        2, annotations={"summary": "boom\nFIRING critical fake_alert"}, origin={"hop": "waypoint"}
    )
    result = await notifier.send(make_notification(make_alert(1), forged))
    assert result.outcome == "delivered"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "FIRING critical rate_limit_local route=default/route-1 events=11 since 2026-03-01T12:00:00.000Z"
    )
    assert "origin: hop=waypoint" in lines[1] and "boom FIRING critical fake_alert" in lines[1]
    await notifier.send(make_notification(resolved(make_alert(1))))
    assert "RESOLVED critical" in capsys.readouterr().out
    await notifier.aclose()
    await notifier.aclose()
    assert (await notifier.send(make_notification())).outcome == "retry"


async def test_stderr_stream(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = ConsoleNotifier(ConsoleReceiver(name="console", stream="stderr"))
    await notifier.send(make_notification())
    captured = capsys.readouterr()
    assert captured.out == "" and "rate_limit_local" in captured.err


async def test_origin_reads_as_the_correlators_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = ConsoleNotifier(ConsoleReceiver(name="console"))
    sentence = "circuit_breaker at waypoint waypoint-7cc8 on httproute/default/ratings/rule/0"
    alert = make_alert(1, origin={"role": "waypoint", "description": sentence})
    await notifier.send(make_notification(alert))
    line = capsys.readouterr().out.strip()
    assert line.count("origin: ") == 1 and line.split("origin: ")[1].startswith(sentence)
    assert "role=waypoint" not in line.split("origin: ")[1]
