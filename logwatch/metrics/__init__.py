"""OpenTelemetry metrics of what logwatch sees: requests, rate limits, circuit breakers,
ztunnel connections, hop correlation and the daemon's own health.

    from logwatch.metrics.runtime import setup_metrics
    runtime = setup_metrics(config.metrics, stats)   # .stage is a RecordStage; .close()

Modules: ``instruments`` (the METRICS table), ``stage`` (records -> one add per attribute
set), ``histogram`` (the batch-fed duration histogram), ``cardinality`` (bounded values),
``views`` (SDK allow-lists), ``selfmetrics`` (observable health), ``exporters`` (Prometheus
endpoint, OTLP reader), ``otlp_env`` (OTEL_* settings), ``reference`` (README table).
Nothing is imported here, so loading the configuration does not load OpenTelemetry.
"""
