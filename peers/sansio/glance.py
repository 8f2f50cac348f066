"""Which of ``fks as --workers N``'s processes holds a user: a glance at a datagram, never a parse.

Every message of a user's feature sync carries the user in From: the base's SUBSCRIBE, refresh and FAC INVITE,
the AS's NOTIFY and the base's 200 to it (a response copies From). So hashing From's user part sends all of a
user's dialogs, and the portal's changes for that user, to the one process that holds the user's state. The hash
is CRC-32, the same in every process (Python's ``hash`` of a string is salted per interpreter).
"""

from __future__ import annotations

import zlib

from analyzer.sip.peek import peek_from_user


def shard_of_user(user: str, shards: int) -> int:
    """The process (0 .. shards-1) that holds ``user``'s state."""
    return zlib.crc32(user.encode("utf-8", "surrogateescape")) % shards if shards > 1 else 0


def shard_of(data: bytes, shards: int) -> int:
    """The process a datagram belongs to; one without a From user (garbage, a keep-alive) goes to the first,
    which answers or drops it as the AS does."""
    if shards <= 1:
        return 0
    return shard_of_user(peek_from_user(data) or "", shards)
