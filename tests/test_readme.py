"""The README's reference tables are generated from the code and must be current; every
config key is documented."""

from __future__ import annotations

from pathlib import Path

from logwatch.reference import config_reference, render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_tables_are_current() -> None:
    text = README.read_text()
    assert "<!-- BEGIN config -->" in text and "<!-- BEGIN metrics -->" in text
    assert render_readme(text) == text, "run scripts/update-readme.py"
    assert "\n| `state_dir` | str |" in text
    assert "\n| `logwatch_correlation_hop_added_latency_seconds_bucket`" in text


def test_rendering_fills_empty_blocks_and_replaces_stale_ones() -> None:
    empty = "a\n<!-- BEGIN metrics -->\n<!-- END metrics -->\nb\n"
    filled = render_readme(empty)
    assert filled.startswith("a\n<!-- BEGIN metrics -->\n| Prometheus |")
    assert "\n| `logwatch_requests_total` |" in filled
    assert filled.endswith("\n<!-- END metrics -->\nb\n")
    stale = filled.replace("logwatch_requests_total", "logwatch_old_total")
    assert render_readme(stale) == filled == render_readme(filled)


def test_every_config_key_has_a_meaning() -> None:
    rows = config_reference().splitlines()[2:]
    undocumented = [row.split("|")[1].strip() for row in rows if not row.split("|")[5].strip()]
    assert not undocumented, undocumented


def test_readme_starts_with_the_two_setup_commands() -> None:
    lines = README.read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("scripts/setup.sh && .venv/bin/logwatch demo")
    assert block[1].startswith("scripts/test.sh")
    assert "scripts/test.sh" in (README.parent / ".ci" / "run").read_text()
