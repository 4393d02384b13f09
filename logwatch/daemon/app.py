"""The daemon's one entry point: everything is built in an AsyncExitStack, torn down in reverse.

Lifecycle: sources read into a bounded queue (a full queue stops reading: backpressure); one
consumer decodes and runs the pipeline on a worker thread (polars releases the GIL, the loop
stays free for probes and signals) and commits every ``checkpoint_interval_s``. SIGTERM/SIGINT
set the stop event: reading stops, the queue is drained, the pipeline flushed and the final
checkpoint written, all within ``shutdown_timeout_s``; past that the daemon exits with status 1
without a checkpoint (the next start reads the tail again: at least once). SIGHUP reloads the
configuration (sources, log level) and the alert rules (between two batches: unchanged rules
keep their state); an invalid configuration or rule is logged and the running one kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from logwatch.alerts.config import AlertsConfig
from logwatch.alerts.rulefiles import configured_rules
from logwatch.checkpoint import CheckpointStore
from logwatch.clock import Clock, WallClock
from logwatch.config import Config, ConfigError, parse_listen
from logwatch.daemon.consumer import END, Consumer, QueueItem
from logwatch.daemon.ingest import Ingest
from logwatch.daemon.logs import configure_logging
from logwatch.daemon_stats import DaemonStats
from logwatch.health import HealthServer, Verdict
from logwatch.pipeline.pipeline import Pipeline
from logwatch.pipeline.stages import RecordStage
from logwatch.sinks.file import FileSink
from logwatch.sources.stdin import StdinSource
from logwatch.sources.tail.tailer import Tailer
from parsers.options import ParseOptions
from rules.model import RuleError

if TYPE_CHECKING:
    from logwatch.alerts.stage import AlertStage

log = logging.getLogger("logwatch.daemon")

Reload = Callable[[], Config]


async def run_daemon(
    config: Config,
    *,
    reload: Reload | None = None,
    once: bool = False,
    stdin: BinaryIO | None = None,
    stats: DaemonStats | None = None,
) -> int:
    """Run until stopped (signal), or with ``once`` until what is there has been read.

    Returns the exit status: 0 after a clean drain and checkpoint, 1 when processing failed or
    the drain did not finish in time.
    """
    stats = stats or DaemonStats()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        os.makedirs(config.state_dir, exist_ok=True)
        store = CheckpointStore(config.state_dir)
        resume = store.load()
        clock = WallClock()
        stages = await build_stages(config, stack, clock, stats)
        options = ParseOptions(
            max_line_bytes=config.parse.max_line_bytes,
            envoy_text_formats=config.parse.envoy_text_formats,
        )
        if config.sources.kafka:
            return await _run_analyzer(config, stack, stages, options, stats, stop)
        pipeline = Pipeline(
            stages.all,
            clock=clock,
            allowed_lateness=timedelta(seconds=config.daemon.allowed_lateness_s),
            daemon_stats=stats,
        )
        ingest = Ingest(pipeline, options, store, stats, resume)
        queue: asyncio.Queue[QueueItem] = asyncio.Queue(maxsize=config.daemon.queue_max_batches)
        consumer = Consumer(queue, ingest, config.daemon)

        tailer: Tailer | None = None
        readers: list[asyncio.Task[None]] = []
        if config.sources.paths:
            tailer = Tailer(
                config.sources,
                max_line_bytes=config.parse.max_line_bytes,
                stats=stats,
                resume=resume,
            )
            stack.callback(tailer.close)
        stdin_source: StdinSource | None = None
        if config.sources.stdin and stdin is not None:
            stdin_source = StdinSource(
                stdin,
                chunk_bytes=config.sources.read_chunk_bytes,
                max_line_bytes=config.parse.max_line_bytes,
                stats=stats,
            )
        started_at = time.time()

        def ready() -> Verdict:
            sources = [s.started for s in (tailer, stdin_source) if s is not None]
            if not all(sources):
                return Verdict(False, "sources not started")
            age = time.time() - (stats.checkpoint_unix or started_at)
            if age > config.daemon.ready_max_checkpoint_age_s:
                return Verdict(False, f"last checkpoint {age:.0f}s ago")
            return Verdict(True, f"ready; lag_bytes={sum(stats.lag_bytes.values())}")

        health = await _start_health(config, consumer.alive, ready)
        if health is not None:
            stack.push_async_callback(health.close)

        current = config
        rule_reloads: set[asyncio.Task[None]] = set()
        stack.callback(lambda: [task.cancel() for task in rule_reloads])

        def on_reload() -> None:
            nonlocal current
            fresh = _reload(current, reload, tailer)
            if fresh is not current and stages.alerts is not None:
                task = loop.create_task(_reload_rules(fresh.alerts, stages.alerts, consumer))
                rule_reloads.add(task)
                task.add_done_callback(rule_reloads.discard)
            current = fresh

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
            stack.callback(loop.remove_signal_handler, signum)
        loop.add_signal_handler(signal.SIGHUP, on_reload)
        stack.callback(loop.remove_signal_handler, signal.SIGHUP)

        # tasks start last: everything they use is set up, and _drain ends them
        if tailer is not None:
            readers.append(asyncio.create_task(tailer.run(queue.put, stop, once=once)))
        if stdin_source is not None:
            readers.append(asyncio.create_task(stdin_source.run(queue.put, stop)))
        consuming = asyncio.create_task(consumer.run())
        reading = asyncio.create_task(_read_all(readers, queue))
        log.info(
            "daemon started",
            extra={
                "sources": list(config.sources.paths),
                "stdin": stdin_source is not None,
                "resumed_files": len(resume),
            },
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({stopping, reading, consuming}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopping.cancel()
        return await _drain(reading, consuming, config.daemon.shutdown_timeout_s)
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns


@dataclass(frozen=True, slots=True, eq=False)
class DaemonStages:
    all: list[RecordStage]  # in pipeline order
    alerts: AlertStage | None  # also in ``all``; the Kafka analyzer runs it apart


async def build_stages(
    config: Config, stack: AsyncExitStack, clock: Clock, stats: DaemonStats
) -> DaemonStages:
    """The pipeline stages of the daemon, in order; each one's close is on the stack.

    Correlation, metrics and alerts come from ``logwatch.pipeline.build`` (the one place that
    assembles them); the sinks (``--sink file:``, ``--sink kafka://``) come last so they see
    what the others saw.
    The metrics runtime (endpoint, OTLP) closes after the stages: its last export sees all.
    Alerts go to the notification dispatcher, which stores each one durably before returning,
    so a checkpoint never passes an alert that could still be lost; it stops after the
    pipeline, giving in-flight sends their grace.
    """
    from logwatch.metrics import setup_metrics
    from logwatch.notify.build import notification_delivery
    from logwatch.pipeline.build import build_stages as build_pipeline_stages

    metrics = setup_metrics(config.metrics, stats, clock=clock)
    stack.callback(metrics.close)
    dispatcher = await stack.enter_async_context(
        notification_delivery(config.notifiers, Path(config.state_dir), stats, clock)
    )
    built = build_pipeline_stages(
        config,
        clock=clock,
        outbox=dispatcher,
        metrics=metrics.stage,
        alert_state_dir=Path(config.state_dir),
    )
    if built.correlator is not None:
        # nothing here reads paths: hold what alert samples need, and the hop metrics
        built.correlator.keep_recent_only(hop_metrics=metrics.stage.active)
        metrics.observe_correlation(built.correlator.stats)
        metrics.stage.follow_hops(built.correlator)
    stages: list[RecordStage] = list(built.all)
    for stage in stages:
        close = getattr(stage, "close", None)
        if callable(close):
            stack.callback(close)
    if config.sinks.file:
        sink = FileSink(config.sinks.file)
        stack.callback(sink.close)
        stages.append(sink)
    if config.sinks.kafka:
        from logwatch.sinks.kafka import collector_sink

        publisher = collector_sink(config.kafka, config.sinks.kafka)
        stack.callback(publisher.close)
        stages.append(publisher)
    return DaemonStages(stages, built.alerts)


async def _read_all(readers: Sequence[asyncio.Task[None]], queue: asyncio.Queue[QueueItem]) -> None:
    try:
        await asyncio.gather(*readers)
    finally:
        # the consumer drains what is queued, then commits and ends
        await queue.put(END)


async def _drain(reading: asyncio.Task[None], consuming: asyncio.Task[bool], limit_s: float) -> int:
    """Wait for the readers to stop and the consumer to drain and commit, within ``limit_s``."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit_s):
            await reading
            committed = await consuming
    except TimeoutError:
        log.error(
            "shutdown did not finish in time; no final checkpoint", extra={"timeout_s": limit_s}
        )
        for task in (reading, consuming):
            task.cancel()
        await asyncio.gather(reading, consuming, return_exceptions=True)
        return 1
    except Exception:
        log.exception("daemon failed")
        for task in (reading, consuming):
            task.cancel()
        await asyncio.gather(reading, consuming, return_exceptions=True)
        return 1
    log.info(
        "daemon stopped",
        extra={"drain_s": round(time.monotonic() - started, 3), "checkpointed": committed},
    )
    return 0 if committed else 1


async def _run_analyzer(
    config: Config,
    stack: AsyncExitStack,
    stages: DaemonStages,
    options: ParseOptions,
    stats: DaemonStats,
    stop: asyncio.Event,
) -> int:
    """Analyzer mode (``--source kafka://...``): the Kafka source drives the pipeline and
    commits offsets after each flush; alert decisions run behind the signals topic, so each
    alert group is decided by one analyzer (see ``logwatch.kafka.topology``)."""
    from logwatch.sources.kafka import run_analyzer

    assert config.sources.kafka is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
        stack.callback(loop.remove_signal_handler, signum)
    # Analyzers of one group must judge with the same rules: a change rolls out by a
    # (rolling) restart, never by one analyzer reloading alone.
    loop.add_signal_handler(
        signal.SIGHUP,
        lambda: log.warning("SIGHUP ignored: an analyzer applies configuration when restarted"),
    )
    stack.callback(loop.remove_signal_handler, signal.SIGHUP)
    started = asyncio.Event()

    def ready() -> Verdict:
        return Verdict(started.is_set(), "consuming" if started.is_set() else "starting")

    health = await _start_health(config, lambda: Verdict(True, "alive"), ready)
    if health is not None:
        stack.push_async_callback(health.close)
    alerts = stages.alerts
    started.set()
    log.info("analyzer started", extra={"source": config.sources.kafka})
    await run_analyzer(
        config.kafka,
        config.sources.kafka,
        stages=[stage for stage in stages.all if stage is not alerts],
        alerts=alerts,
        rules=alerts.engine.rules if alerts is not None else [],
        stop=stop,
        stats=stats,
        parse_options=options,
        allowed_lateness=timedelta(seconds=config.daemon.allowed_lateness_s),
    )
    return 0


async def _start_health(
    config: Config, alive: Callable[[], Verdict], ready: Callable[[], Verdict]
) -> HealthServer | None:
    if not config.daemon.health_listen:
        return None
    host, port = parse_listen(config.daemon.health_listen)
    server = HealthServer(host, port, alive=alive, ready=ready)
    await server.start()
    return server


async def _reload_rules(config: AlertsConfig, alerts: AlertStage, consumer: Consumer) -> None:
    """Swap in the rules ``config`` names (files are read again) between two batches; an
    invalid rule keeps the running ones."""
    try:
        rules = configured_rules(config)
    except RuleError as exc:
        log.error("rules reload failed; keeping the running rules", extra={"error": str(exc)})
        return
    await consumer.on_worker(partial(alerts.replace_rules, rules))
    log.info("rules reloaded", extra={"rules": [rule.name for rule in rules]})


def _reload(current: Config, reload: Reload | None, tailer: Tailer | None) -> Config:
    if reload is None:
        log.warning("SIGHUP ignored: no configuration source to reload from")
        return current
    try:
        fresh = reload()
    except ConfigError as exc:
        log.error("configuration reload failed; keeping the running one", extra={"error": str(exc)})
        return current
    if tailer is not None:
        tailer.reconfigure(fresh.sources)
    configure_logging(fresh.daemon.log_level)
    needs_restart = [
        key
        for key in ("state_dir", "sinks", "parse")
        if getattr(fresh, key) != getattr(current, key)
    ]
    # rules are reloaded (_reload_rules); the rest of the alerts section is not
    rule_fields = ("rule_files", "use_builtin_pack", "disabled_rules")
    if (
        fresh.alerts.model_copy(
            update={name: getattr(current.alerts, name) for name in rule_fields}
        )
        != current.alerts
    ):
        needs_restart.append("alerts")
    if needs_restart:
        log.warning(
            "configuration reloaded; these sections apply after a restart",
            extra={"sections": needs_restart},
        )
    log.info("configuration reloaded")
    return fresh
