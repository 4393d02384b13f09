"""`logwatch run`: the node daemon (sources -> decode -> pipeline -> checkpoints)."""

import os

# Polars' allocator (jemalloc) keeps freed pages for up to a second before returning them, and
# each batch frees frames as large as the correlation state: a long-running daemon's RSS then
# holds several batches of garbage. Returning them at once instead costs a page fault for
# every page the next batch takes again (a third of the CPU went to the kernel, a third fewer
# lines/s in bench/tail.py). After 100 ms the next batch has reused them: 77,000 instead of
# 54,000 lines/s for 13-17 % more peak RSS than at once, 13 % less than polars' default.
# Read once when polars loads, so it is set before the import below. An operator's own
# setting wins; the value polars itself exports (inherited from a parent process that
# imported polars) is its default, not a choice.
_POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
if os.environ.get("_RJEM_MALLOC_CONF", _POLARS_DEFAULT) == _POLARS_DEFAULT:
    os.environ["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:100,muzzy_decay_ms:0"

from logwatch.daemon.app import run_daemon  # noqa: E402

__all__ = ["run_daemon"]
