"""ztunnel outbound <-> inbound pairing over the retained connections, with skew learning.

One step pairs the selected outbound connections (each is tried once, ``pair_done``), marks
both sides ``joined`` and records ``peer_id``/``peer_confidence`` on both rows. Clock offsets
learned from unambiguous pairs (see ``skew``) are used at once: when a step learns a new
node pair, the still ambiguous rest is tried again with it.
"""

from __future__ import annotations

import polars as pl

from logwatch.correlate.approx import PAIR_COLUMNS, pair_connections
from logwatch.correlate.config import CorrelationConfig
from logwatch.correlate.frames import collect
from logwatch.correlate.outputs import Outputs
from logwatch.correlate.skew import ClockOffsets
from logwatch.correlate.stats import CorrelationStats


def pair_step(
    conns: pl.DataFrame,
    which: pl.Expr,
    config: CorrelationConfig,
    offsets: ClockOffsets,
    stats: CorrelationStats,
    outputs: Outputs,
    *,
    final: bool,
) -> pl.DataFrame:
    """``conns`` with the outbound rows selected by ``which`` paired where possible.

    ``final``: the selected rows have settled (their inbound side had time to arrive), so
    those left unpaired are not tried again. Otherwise (a path needs them early) unpaired
    rows stay eligible for the settled pass.
    """
    # lazy: only the columns pairing reads are filtered, not every column of the connections
    outbound = collect(
        conns.lazy()
        .filter((pl.col("direction") == "outbound") & ~pl.col("pair_done") & which)
        .select(PAIR_COLUMNS)
    )
    if outbound.height == 0:
        return conns
    inbound = collect(
        conns.lazy()
        .filter((pl.col("direction") == "inbound") & pl.col("peer_id").is_null())
        .select(PAIR_COLUMNS)
    )
    pairs = pair_connections(outbound, inbound, config, offsets.frame())
    accepted = pairs.filter("accepted")
    learned = len(offsets.frame())
    offsets.learn(_offset_samples(accepted, conns))
    if len(offsets.frame()) > learned and pairs.height > accepted.height:
        # New node offsets make the ambiguous rest comparable: one more pass for them.
        paired = accepted["left_id"].implode()
        taken = accepted["right_id"].implode()
        retry = pair_connections(
            outbound.filter(~pl.col("id").is_in(paired)),
            inbound.filter(~pl.col("id").is_in(taken)),
            config,
            offsets.frame(),
        )
        pairs = pl.concat([accepted, retry])
        accepted = pairs.filter("accepted")
    stats.joins["ztunnel_pair"] += accepted.height
    stats.ambiguous["ztunnel_pair"] += pairs.height - accepted.height
    links = pl.concat(
        [
            accepted.select(
                pl.col("left_id").alias("id"), pl.col("right_id").alias("_peer"), "confidence"
            ),
            accepted.select(
                pl.col("right_id").alias("id"), pl.col("left_id").alias("_peer"), "confidence"
            ),
        ]
    )
    if config.keep_connection_pairs:
        outputs.keep_pairs(_pair_lines(accepted, conns))
    if accepted.height == 0 and not final:
        return conns
    done = (outbound["id"] if final else accepted["left_id"]).implode()
    return (
        conns.join(links, on="id", how="left")
        .with_columns(
            pl.coalesce("peer_id", "_peer").alias("peer_id"),
            pl.coalesce("peer_confidence", "confidence").alias("peer_confidence"),
            (pl.col("pair_done") | pl.col("id").is_in(done)).alias("pair_done"),
            (pl.col("joined") | pl.col("_peer").is_not_null()).alias("joined"),
        )
        .drop("_peer", "confidence")
    )


def _offset_samples(accepted: pl.DataFrame, conns: pl.DataFrame) -> pl.DataFrame:
    """Clock offset samples of unambiguous pairs: (outbound file, destination IP, offset)."""
    return (
        accepted.filter(pl.col("candidates") == 1)
        .join(
            conns.select(pl.col("id").alias("left_id"), "file", pl.col("dst_ip").alias("peer")),
            on="left_id",
        )
        .select("file", "peer", "offset_us")
        .drop_nulls()
    )


def _pair_lines(pairs: pl.DataFrame, conns: pl.DataFrame) -> pl.DataFrame:
    where = conns.select("id", "file", "lineno")
    return (
        pairs.join(where.rename({"id": "left_id"}), on="left_id")
        .join(where.rename({"id": "right_id"}), on="right_id", suffix="_in")
        .select(
            pl.col("file").alias("outbound_file"),
            pl.col("lineno").alias("outbound_lineno"),
            pl.col("file_in").alias("inbound_file"),
            pl.col("lineno_in").alias("inbound_lineno"),
            "confidence",
        )
    )
