"""What the tailer hands on: whole lines of one logical file, with where they came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """One physical file: where it was read and how to recognise it after a restart."""

    path: str  # where the bytes were read (a rotated file keeps its new name here)
    dev: int
    ino: int
    fingerprint: str  # see fingerprint.py; "" while the file is empty


@dataclass(frozen=True, slots=True)
class FileChunk:
    """Whole lines (each ending in ``\\n``) read from ``identity`` at ``start_offset``.

    ``key`` names the logical file (the resolved path the glob matched), stable across
    rotations. ``new_file`` marks the first chunk of a physical file that replaced the
    previous one (rotation, truncation): the decoder must start a new file there but keep
    its partial CRI buffers. ``closed`` marks the end of the logical file (deleted, or the
    source stopped): no chunk with this key follows and ``data`` is empty. The first chunk of
    a logical file may also be empty: it announces where reading starts.
    """

    key: str
    identity: FileIdentity
    data: bytes
    start_offset: int
    start_lineno: int
    lines: int
    new_file: bool = False
    closed: bool = False
    file_size: int = 0  # size of the physical file when the chunk was read

    @property
    def end_offset(self) -> int:
        return self.start_offset + len(self.data)

    @property
    def end_lineno(self) -> int:
        return self.start_lineno + self.lines
