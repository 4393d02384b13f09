"""`logwatch run`: the node daemon (sources -> decode -> pipeline -> checkpoints)."""

from logwatch.daemon.app import run_daemon

__all__ = ["run_daemon"]
