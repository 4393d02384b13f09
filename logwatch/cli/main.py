"""The `logwatch` command. Subcommands live one per module and are imported on use,
so `logwatch parse` does not pay for Kafka or OpenTelemetry imports."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command
SUBCOMMANDS: dict[str, str] = {
    "parse": "logwatch.cli.parse:parse",
    "replay": "logwatch.cli.replay:replay",
    "run": "logwatch.cli.run:run",
    "rules": "logwatch.cli.rules:rules",
    "silence": "logwatch.cli.silence:silence",
    "demo": "logwatch.demo.run:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logwatch")
def main() -> None:
    """Watch Istio ambient and Envoy Gateway access logs: parse, correlate hops, export
    metrics and alert when rate limits or circuit breakers fire."""
