from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from logwatch.alerts.silences import SilenceError, SilenceStore
from logwatch.cli.main import main

NOW = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)


def test_store_add_mutes_within_time_and_matchers(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "silences.json")
    silence = store.add(
        ("alertname=RateLimited", "route_name=~httproute/.*"),
        NOW,
        NOW + timedelta(hours=1),
        "me",
        "deploy",
    )
    labels = {"alertname": "RateLimited", "route_name": "httproute/a"}
    assert store.mutes(labels, NOW)
    assert not store.mutes(labels, NOW + timedelta(hours=2))
    assert not store.mutes({**labels, "alertname": "Other"}, NOW)
    store.expire(silence.id[:6], NOW + timedelta(minutes=1))
    assert not SilenceStore(tmp_path / "silences.json").mutes(labels, NOW + timedelta(minutes=2))


@pytest.mark.parametrize("matchers", [(), ("no operator",), ("a=~(",)])
def test_invalid_silences_are_refused(tmp_path: Path, matchers: tuple[str, ...]) -> None:
    with pytest.raises(SilenceError):
        SilenceStore(tmp_path / "s.json").add(matchers, NOW, NOW + timedelta(hours=1), "me", "")


def test_unreadable_file_raises_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{broken")
    with pytest.raises(SilenceError, match="unreadable silence file"):
        SilenceStore(tmp_path / "s.json").load()


def test_cli_add_list_expire(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path)]
    added = runner.invoke(
        main,
        [
            "silence",
            "add",
            "-m",
            "alertname=RateLimited",
            "--duration",
            "2h",
            "--comment",
            "deploy",
            "--author",
            "ops",
            *state,
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(main, ["silence", "list", *state])
    assert silence_id in listed.output and "active" in listed.output and "deploy" in listed.output
    expired = runner.invoke(main, ["silence", "expire", silence_id, *state])
    assert expired.exit_code == 0
    assert silence_id not in runner.invoke(main, ["silence", "list", *state]).output
    assert silence_id in runner.invoke(main, ["silence", "list", "--all", *state]).output
    bad = runner.invoke(main, ["silence", "add", "-m", "nonsense", *state])
    assert bad.exit_code == 1 and "not a matcher" in bad.output
    missing = runner.invoke(main, ["silence", "expire", "ffff", *state])
    assert missing.exit_code == 1
