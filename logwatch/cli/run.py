"""`logwatch run`: the node daemon. Flags override the config file and LOGWATCH_* variables."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import click

from logwatch.config import Config, ConfigError, load_config


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--state-dir", help="Where checkpoints live (state_dir).")
@click.option(
    "--source",
    "sources",
    multiple=True,
    help=(
        "A file glob, 'stdin' / '-', or kafka://BOOTSTRAP/TOPIC?group=G (analyzer mode) "
        "(sources.paths, sources.stdin, sources.kafka). Repeatable."
    ),
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    help=(
        "file:PATH writes records as NDJSON (sinks.file); kafka://BOOTSTRAP/TOPIC publishes "
        "them (collector mode, sinks.kafka)."
    ),
)
@click.option("--health-listen", help="HOST:PORT of /healthz and /readyz (daemon.health_listen).")
@click.option("--once", is_flag=True, help="Read what is there, drain, checkpoint and exit.")
def run(
    config_path: str | None,
    state_dir: str | None,
    sources: tuple[str, ...],
    sinks: tuple[str, ...],
    health_listen: str | None,
    once: bool,
) -> None:
    """Tail access logs, run the pipeline and keep checkpoints (see `logwatch run --help`)."""
    overrides = _overrides(state_dir, sources, sinks, health_listen)

    def load() -> Config:
        return load_config(config_path, dict(os.environ), overrides)

    try:
        config = load()
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None

    from logwatch.daemon.app import run_daemon
    from logwatch.daemon.logs import configure_logging

    configure_logging(config.daemon.log_level)
    try:
        status = asyncio.run(run_daemon(config, reload=load, once=once, stdin=sys.stdin.buffer))
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(status)


def _overrides(
    state_dir: str | None,
    sources: tuple[str, ...],
    sinks: tuple[str, ...],
    health_listen: str | None,
) -> dict[str, Any]:
    overrides: dict[str, Any] = {"state_dir": state_dir, "daemon.health_listen": health_listen}
    if sources:
        kafka = [s for s in sources if s.startswith("kafka://")]
        if len(kafka) > 1:
            raise click.BadParameter("one kafka:// source at most", param_hint="--source")
        overrides["sources.kafka"] = kafka[0] if kafka else None
        overrides["sources.stdin"] = any(s in {"stdin", "-"} for s in sources)
        overrides["sources.paths"] = [
            s for s in sources if s not in {"stdin", "-"} and not s.startswith("kafka://")
        ]
    for sink in sinks:
        if sink.startswith("kafka://"):
            overrides["sinks.kafka"] = sink
            continue
        scheme, sep, target = sink.partition(":")
        if scheme != "file" or not sep or not target:
            raise click.BadParameter(
                f"expected file:PATH or kafka://BOOTSTRAP/TOPIC, got {sink!r}", param_hint="--sink"
            )
        overrides["sinks.file"] = target
    return overrides
