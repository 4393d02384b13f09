"""Recognising a file by its first bytes, not by its inode alone.

Inodes are reused as soon as a file is deleted, and copytruncate keeps the inode while
replacing the content, so a checkpoint that only stored (dev, inode) would resume a
different file at a wrong offset. A fingerprint is ``"<n>:<sha256 of the first n bytes>"``
with n = min(size, FINGERPRINT_BYTES); it matches any file whose first n bytes are equal,
so a file that grew since the fingerprint was taken still matches.
"""

from __future__ import annotations

import hashlib
import os

FINGERPRINT_BYTES = 256


def fingerprint_of(prefix: bytes) -> str:
    """Fingerprint of a file starting with ``prefix`` (at most FINGERPRINT_BYTES are used)."""
    head = prefix[:FINGERPRINT_BYTES]
    if not head:
        return ""
    return f"{len(head)}:{hashlib.sha256(head).hexdigest()}"


def read_prefix(fd: int) -> bytes:
    """The first FINGERPRINT_BYTES bytes of an open file (fewer when it is shorter)."""
    return os.pread(fd, FINGERPRINT_BYTES, 0)


def fd_matches(fd: int, fingerprint: str) -> bool:
    """Whether the open file starts with the bytes ``fingerprint`` was taken from.

    An empty fingerprint (taken while the file was empty) matches any file: nothing was read
    from it, so resuming at its offset 0 is right whatever the file holds now.
    """
    if not fingerprint:
        return True
    length_text, _, _ = fingerprint.partition(":")
    if not length_text.isdigit():
        return False
    length = int(length_text)
    head = os.pread(fd, length, 0)
    return len(head) == length and fingerprint_of(head) == fingerprint


def path_matches(path: str, fingerprint: str) -> bool:
    """Like fd_matches for a path; False when it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fd_matches(fd, fingerprint)
    finally:
        os.close(fd)
