"""Access-log parsers: bytes of ztunnel / Envoy logs (raw, CRI, docker) -> normalized records.

Pure functions and decoders; no I/O. See ``parsers.record`` for the record and
``parsers.stream`` for the streaming contract.
"""

from __future__ import annotations

from parsers.envoy_format import BadFormat, EnvoyTextFormat, compile_format
from parsers.flags import LONG_TO_SHORT, SHORT_CODES, parse_flags
from parsers.frame import frame_records, records_frame
from parsers.k8s_path import PodMeta, pod_meta_from_path
from parsers.line import parse_line
from parsers.options import ParseOptions
from parsers.outcome import Ignored, Rejection
from parsers.record import (
    PUBLIC_KEYS,
    PUBLIC_SCHEMA,
    RECORD_SCHEMA,
    Record,
    empty_batch,
)
from parsers.roles import RoleMap, RoleRule
from parsers.stream import ParsedChunk, StreamDecoder

__all__ = [
    "LONG_TO_SHORT",
    "PUBLIC_KEYS",
    "PUBLIC_SCHEMA",
    "RECORD_SCHEMA",
    "SHORT_CODES",
    "BadFormat",
    "EnvoyTextFormat",
    "Ignored",
    "ParseOptions",
    "ParsedChunk",
    "PodMeta",
    "Record",
    "Rejection",
    "RoleMap",
    "RoleRule",
    "StreamDecoder",
    "compile_format",
    "empty_batch",
    "frame_records",
    "parse_flags",
    "parse_line",
    "pod_meta_from_path",
    "records_frame",
]
