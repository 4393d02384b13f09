"""`logwatch run`: the node daemon (sources -> decode -> pipeline -> checkpoints)."""

import os

# Polars' allocator (jemalloc) keeps freed pages for up to a second before returning them, and
# each batch frees frames as large as the correlation state: a long-running daemon's RSS then
# holds several batches of garbage. Returning pages at once lowers peak RSS by about a quarter
# and costs throughput (page faults and madvise calls: about a fifth fewer lines/s in
# bench/tail.py). Read once when polars loads, so it is set before the import below. An
# operator's own setting wins; the value polars itself exports (inherited from a parent process
# that imported polars) is its default, not a choice.
_POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
if os.environ.get("_RJEM_MALLOC_CONF", _POLARS_DEFAULT) == _POLARS_DEFAULT:
    os.environ["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:0,muzzy_decay_ms:0"

from logwatch.daemon.app import run_daemon  # noqa: E402

__all__ = ["run_daemon"]
