"""`logwatch rules check` (lint rule files) and `logwatch rules test` (backtest on saved logs)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from rules.model import AnyRule, RuleError, load_rules, merge_rule_sets


@click.group()
def rules() -> None:
    """Check rule files and backtest them on saved logs."""


def _load(files: tuple[str, ...], builtin: bool) -> list[tuple[str, list[AnyRule]]]:
    """(source, rules) per file; RuleError listing the problems of every file."""
    from logwatch.alerts.rulefiles import read_rule_file
    from rules.builtin import builtin_pack_texts

    sets: list[tuple[str, list[AnyRule]]] = []
    problems: list[str] = []
    if builtin:
        sets.extend((name, load_rules(text, name)) for name, text in builtin_pack_texts())
    for file in files:
        try:
            sets.append((file, read_rule_file(Path(file))))
        except RuleError as exc:
            problems.append(str(exc))
    if problems:
        raise RuleError("\n".join(problems))
    merge_rule_sets(sets)
    return sets


@rules.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--builtin", is_flag=True, help="Also check the built-in rule pack.")
def check(files: tuple[str, ...], builtin: bool) -> None:
    """Validate rule FILES; print each rule with a one-line summary. Exit 1 on any error."""
    if not files and not builtin:
        raise click.UsageError("give rule FILES and/or --builtin")
    try:
        sets = _load(files, builtin)
    except RuleError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    total = 0
    for source, loaded in sets:
        click.echo(f"{source}: {len(loaded)} rule(s)")
        for rule in loaded:
            state = "" if rule.enabled else " (disabled)"
            click.echo(f"  {rule.name}: {rule.summary()}{state}")
        total += len(loaded)
    click.echo(f"ok: {total} rule(s)")


@rules.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--logs", "logs", multiple=True, required=True, help="Log file or directory (repeatable)."
)
@click.option("--builtin", is_flag=True, help="Also run the built-in rule pack.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def test(files: tuple[str, ...], logs: tuple[str, ...], builtin: bool, output: str) -> None:
    """Backtest rule FILES over saved --logs in event time, with the daemon's engine, and
    print what would have fired and resolved, and when."""
    from logwatch.alerts.backtest import backtest
    from logwatch.sources.files import ReplaySourceError

    if not files and not builtin:
        raise click.UsageError("give rule FILES and/or --builtin")
    try:
        loaded = merge_rule_sets(_load(files, builtin))
    except RuleError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        result = backtest(logs, loaded)
    except (ReplaySourceError, OSError) as exc:
        click.echo(f"cannot read logs: {exc}", err=True)
        sys.exit(1)
    if output == "json":
        document = {
            "input": {
                "lines": result.lines,
                "records": result.records,
                "malformed": result.malformed,
            },
            "alerts": result.alerts,
            "notifications": len(result.notifications),
        }
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    events: list[tuple[str, str, str]] = []
    for alert in result.alerts:
        labels = ", ".join(f"{k}={v}" for k, v in alert["labels"].items())
        events.append(
            (
                alert["starts_at"],
                "FIRING  ",
                f"{alert['rule']} {{{labels}}} events={alert['events']}",
            )
        )
        if alert["ends_at"] is not None:
            events.append((alert["ends_at"], "RESOLVED", f"{alert['rule']} {{{labels}}}"))
    for when, what, text in sorted(events):
        click.echo(f"{when}  {what}  {text}")
    click.echo(
        f"{len(result.alerts)} alert(s), {len(result.notifications)} notification(s) "
        f"from {result.records} record(s) in {result.lines} line(s), {result.malformed} malformed"
    )
