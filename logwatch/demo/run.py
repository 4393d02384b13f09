"""`logwatch demo`: a live synthetic mesh, the real daemon on its logs, alerts as they come.

The demo writes CRI-wrapped access logs for an Envoy Gateway ingress, two waypoints and two
ztunnels into a temporary node log tree (``pods/`` with ``containers/`` symlinks, as kubelet
lays them out), runs ``logwatch run`` on it in-process with console alerts and the
Prometheus endpoint, stops it through its SIGTERM path after ``duration`` seconds, and
prints the replay report of what was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from logwatch.config import Config, load_config, parse_listen
from logwatch.demo.mesh import LOGGING_PODS, Incidents, Mesh, prepare_tree

RULES = Path(__file__).with_name("rules.yaml")


def free_listen(preferred: str) -> str:
    """``preferred`` when its port is free, else the same host with a free port."""
    host, port = parse_listen(preferred)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            probe.bind((host, 0))
            return f"{host}:{probe.getsockname()[1]}"
    return preferred


def demo_config(root: Path, metrics_listen: str) -> Config:
    return load_config(
        None,
        env={},
        overrides={
            "state_dir": str(root / "state"),
            "sources.paths": [str(root / "containers" / "*.log")],
            "daemon.health_listen": free_listen("127.0.0.1:8686"),
            # the daemon's own JSON logs would drown the alerts on the terminal
            "daemon.log_level": "WARNING",
            "metrics.prometheus.listen": metrics_listen,
            "alerts.use_builtin_pack": False,
            "alerts.rule_files": [str(RULES)],
            "alerts.group_by": ["alertname", "route_name", "upstream_cluster"],
            "alerts.group_wait": "1s",
            "alerts.group_interval": "5s",
        },
    )


async def write_traffic(
    root: Path, mesh: Mesh, duration_s: float, rate: int, stop: asyncio.Event
) -> None:
    """Append one second of traffic per second until ``duration_s`` has passed."""
    files = {pod: pod.log_path(root).open("ab", buffering=0) for pod in LOGGING_PODS}
    try:
        deadline = asyncio.get_running_loop().time() + duration_s
        while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
            for pod, lines in mesh.tick(datetime.now(UTC), rate).items():
                if lines:
                    files[pod].write(b"".join(lines))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        for handle in files.values():
            handle.close()


async def run_demo(root: Path, config: Config, duration_s: float, rate: int) -> int:
    from logwatch.daemon.app import run_daemon

    mesh = Mesh(datetime.now(UTC), incidents=Incidents.scaled(duration_s))
    stop_writing = asyncio.Event()
    daemon = asyncio.create_task(run_daemon(config))
    writer = asyncio.create_task(write_traffic(root, mesh, duration_s, rate, stop_writing))
    try:
        await asyncio.wait({daemon, writer}, return_when=asyncio.FIRST_COMPLETED)
        if not daemon.done():
            # let the last second of lines reach the daemon, then stop it the way Kubernetes would
            await asyncio.sleep(2.0)
            signal.raise_signal(signal.SIGTERM)
        return await daemon
    finally:
        stop_writing.set()
        await writer
        click.echo(
            f"\nwrote {mesh.requests} requests: {mesh.rate_limited} rate limited, "
            f"{mesh.overflowed} hit the open circuit breaker",
            err=True,
        )


@click.command()
@click.option(
    "--duration", default=60.0, show_default=True, help="Seconds of traffic before the demo stops."
)
@click.option("--rate", default=40, show_default=True, help="User requests per second.")
@click.option(
    "--metrics-listen",
    default="127.0.0.1:9464",
    show_default=True,
    help="Prometheus endpoint (a free port is used if busy).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Write the logs here instead of a temporary directory.",
)
def demo(duration: float, rate: int, metrics_listen: str, directory: str | None) -> None:
    """Run a live synthetic ambient mesh with a rate-limit and a circuit-breaker incident,
    watch it with the real daemon, and print alerts as they fire and resolve."""
    import tempfile

    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="logwatch-demo-"))
    prepare_tree(root)
    listen = free_listen(metrics_listen)
    config = demo_config(root, listen)
    incidents = Incidents.scaled(duration)
    click.echo(
        f"logwatch demo: logs in {root}/pods, metrics at http://{listen}/metrics\n"
        f"  rate limit at the ingress        {incidents.rate_limit[0]:.0f}s - {incidents.rate_limit[1]:.0f}s\n"
        f"  circuit breaker at the waypoint  {incidents.circuit_breaker[0]:.0f}s - {incidents.circuit_breaker[1]:.0f}s\n"
        f"  stops by itself after {duration:.0f}s (Ctrl-C stops it sooner)\n",
        err=True,
    )
    try:
        status = asyncio.run(run_demo(root, config, duration, rate))
    except KeyboardInterrupt:
        status = 0
    print_report(root, config)
    sys.exit(status)


def print_report(root: Path, config: Config) -> None:
    """The replay report of everything the demo wrote: the same pipeline, in event time."""
    from logwatch.pipeline.replay import replay
    from logwatch.report.table import render_table

    click.echo(render_table(replay([str(root / "pods")], config=config)))
