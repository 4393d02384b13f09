"""Following log files on a node: discovery by glob polling, one follower per logical file
across rotations, truncations and deletions, fingerprints to recognise files after restart."""

from logwatch.sources.tail.chunk import FileChunk, FileIdentity
from logwatch.sources.tail.tailer import Tailer

__all__ = ["FileChunk", "FileIdentity", "Tailer"]
