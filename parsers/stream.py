"""Contract of the per-stream decoder (implementation to follow in this module).

A ``StreamDecoder`` turns the bytes of one input stream (one log file followed across
rotations, stdin, or one Kafka partition's raw lines) into record batches:

    decoder = StreamDecoder(file="/var/log/pods/.../0.log", options=ParseOptions())
    chunk = decoder.feed(data)        # data: whole lines, each ending in b"\n"
    ...
    chunk = decoder.finish()          # end of input: an unfinished CRI/docker partial
                                      # sequence is counted as malformed, never dropped

Guarantees:
- ``feed`` never raises on bad input: every line is counted exactly once as a record,
  ``ignored`` (not an access log) or a ``Rejection`` (malformed, with reason).
- Records come out in input order; ``lineno`` is 1-based and continues across feeds.
- CRI ``P`` fragments are reassembled per stream (stdout/stderr separately) with a size cap;
  the partial buffer survives ``start_file`` so a sequence may straddle a rotation.
- ``pending_bytes`` is how many bytes already fed belong to an unfinished partial sequence:
  a checkpoint must point at ``end_offset - pending_bytes`` to re-read them after a restart.
"""
