"""`logwatch replay`: saved logs in, an incident report out (table, JSON or HTML)."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO

import click

OUTPUTS = ("table", "json", "html")


class _ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 5 times a second; only on a TTY."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, progress: object) -> None:
        from logwatch.pipeline.replay import ReplayProgress

        assert isinstance(progress, ReplayProgress)
        now = time.monotonic()
        if now - self._last_draw < 0.2:
            return
        self._last_draw = now
        mib = progress.bytes_read / (1 << 20)
        if progress.bytes_total:
            share = min(progress.bytes_read / progress.bytes_total, 1.0)
            bar = "#" * int(share * 30)
            text = f"\rreplaying [{bar:<30}] {share:4.0%} {mib:,.0f} MiB"
        else:
            text = f"\rreplaying {mib:,.0f} MiB"
        self._stream.write(text)
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(OUTPUTS),
    default="table",
    show_default=True,
    help="table: plain-text tables; json: the report document; html: one self-contained page with charts.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report here instead of stdout.",
)
@click.option(
    "--since",
    help="Only records at or after this time: RFC 3339 (2025-07-18T03:10:00Z; no offset means UTC) "
    "or a duration before now (90s, 15m, 2h, 1d).",
)
@click.option("--until", help="Only records before this time (same forms as --since).")
@click.option(
    "--route",
    "routes",
    multiple=True,
    help="Only Envoy records whose route_name matches this glob (repeatable).",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Only records of this namespace: the proxy pod's, or a ztunnel record's source or destination (repeatable).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML configuration file (LOGWATCH_* environment variables override it).",
)
@click.option(
    "--paths",
    "paths_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the correlated request paths here, one JSON object per line.",
)
def replay(
    paths: tuple[str, ...],
    output: str,
    out_path: str | None,
    since: str | None,
    until: str | None,
    routes: tuple[str, ...],
    namespaces: tuple[str, ...],
    config_path: str | None,
    paths_path: str | None,
) -> None:
    """Replay saved access logs and report what happened: totals, flags, routes and clusters
    with RL / UO / 5xx counts and latency, ztunnel errors, an incidents timeline.

    PATHS are files (plain or .gz), directories (read recursively, each physical file once,
    kubelet-rotated files in rotation order) or - for stdin. Several files are merged by
    event time. Malformed lines are reported on stderr and counted, never fatal.
    """
    import os

    from logwatch.config import ConfigError, load_config
    from logwatch.pipeline.filters import BadTimeBound, parse_time_bound, record_selection
    from logwatch.pipeline.replay import NoInput
    from logwatch.pipeline.replay import replay as run_replay
    from logwatch.sources.files import ReplaySourceError

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="logwatch: %(message)s")
    try:
        config = load_config(config_path, env=os.environ)
        now = datetime.now(UTC)
        select = record_selection(
            since=parse_time_bound(since, now) if since else None,
            until=parse_time_bound(until, now) if until else None,
            routes=routes,
            namespaces=namespaces,
        )
    except (ConfigError, BadTimeBound) as exc:
        raise click.UsageError(str(exc)) from None
    progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    paths_out = open(paths_path, "wb") if paths_path else None  # noqa: SIM115 -- closed below
    try:
        report = run_replay(
            paths, config=config, select=select, paths_out=paths_out, on_progress=progress
        )
    except (ReplaySourceError, NoInput) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
        if paths_out is not None:
            paths_out.close()
    document = _render(report, output)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as handle:
            handle.write(document)
    else:
        try:
            click.echo(document, nl=False)
            sys.stdout.flush()
        except BrokenPipeError:
            # the reader (`| head`) has gone: not an error; keep Python from complaining at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _render(report: object, output: str) -> str:
    from logwatch.report.model import Report

    assert isinstance(report, Report)
    if output == "json":
        import orjson

        return orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if output == "html":
        from logwatch.report.html import render_html

        return render_html(report)
    from logwatch.report.table import render_table

    return render_table(report)
