"""Defaults for every test session."""

from __future__ import annotations

import os

# Daemons started by tests (subprocesses inherit this environment) serve their metrics on a
# free port, so concurrent test runs never fight over the default 127.0.0.1:9464.
os.environ.setdefault("LOGWATCH_METRICS__PROMETHEUS__LISTEN", "127.0.0.1:0")

from hypothesis import settings

# CI runs are reproducible (each property test draws the same examples every run); local
# runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
