"""`logwatch silence add|list|expire`: mute alerts by label matchers for a while.

Silences live in the state dir (``silences.json``, written atomically); a running daemon
picks changes up at its next notification flush.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from logwatch.alerts.silences import SilenceError, SilenceStore
from rules.durations import parse_duration

_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/var/lib/logwatch"),
    show_default=True,
    envvar="LOGWATCH_STATE_DIR",
)
_FILE = "silences.json"


@click.group()
def silence() -> None:
    """Add, list and expire silences."""


@silence.command()
@click.option(
    "--matcher",
    "-m",
    "matchers",
    multiple=True,
    required=True,
    help="name=value, name!=value, name=~re, name!~re (repeatable)",
)
@click.option("--duration", default="2h", show_default=True, help="e.g. 30m, 2h, 1d")
@click.option("--start", default=None, help="RFC 3339 start time (default: now)")
@click.option("--comment", default="", help="Why (shown by list)")
@click.option("--author", default=None, help="Who (default: the current user)")
@_STATE_DIR
def add(
    matchers: tuple[str, ...],
    duration: str,
    start: str | None,
    comment: str,
    author: str | None,
    state_dir: Path,
) -> None:
    """Silence alerts whose labels match every --matcher."""
    try:
        length = parse_duration(duration)
        starts = datetime.now(UTC) if start is None else _time(start)
        store = SilenceStore(state_dir / _FILE)
        created = store.add(matchers, starts, starts + length, author or getpass.getuser(), comment)
    except (SilenceError, ValueError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(created.id)


@silence.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@_STATE_DIR
def list_(show_all: bool, state_dir: Path) -> None:
    """List silences: id, state, end, matchers, author, comment."""
    now = datetime.now(UTC)
    try:
        silences = SilenceStore(state_dir / _FILE).load()
    except SilenceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for s in silences:
        state = s.state(now)
        if state == "expired" and not show_all:
            continue
        click.echo(
            f"{s.id}  {state:<8} until {s.ends_at.isoformat(timespec='seconds')}  "
            f"{' '.join(s.matchers)}  by {s.created_by}  {s.comment}"
        )


@silence.command()
@click.argument("silence_id")
@_STATE_DIR
def expire(silence_id: str, state_dir: Path) -> None:
    """End the silence SILENCE_ID (or a unique prefix of it) now."""
    try:
        expired = SilenceStore(state_dir / _FILE).expire(silence_id, datetime.now(UTC))
    except (SilenceError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"expired {expired.id}")


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"--start needs a timezone: {text}")
    return value.astimezone(UTC)
