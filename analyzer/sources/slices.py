"""Cut a pcap or pcapng capture into overlapping slices of whole records, without decoding a packet.

tshark keeps state for every frame it has read (about 1 KB each), so one tshark over a site's capture of
millions of packets grows to gigabytes. Cut into slices, each read by its own tshark, memory is bounded by
the slice size and the slices run on every core. A message that spans segments (TCP) or fragments (IP) is
reassembled only when all its pieces are in one slice: each slice therefore starts ``overlap`` records before
the part it answers for (its ``accept`` range), and reports only messages completed inside that range. The
leading records give tshark the beginnings of messages that end inside, and room to find the next message
boundary of a TCP stream it joins in the middle.

Only the record framing is read here: pcap record headers and pcapng block lengths. A file whose framing
this module does not follow (compressed, an interface described in the middle of a section, a second
section) is not sliced; the caller reads it whole. The module works on a bytes-like buffer (an ``mmap`` of
the file) and returns offsets: no I/O of its own.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice, pairwise

from analyzer.vocab import PACKAGE

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_PCAPNG_PACKETS = (2, 3, 6)  # packet block (obsolete), simple packet block, enhanced packet block
_SECRETS = 10  # the pcapng Decryption Secrets Block
_PCAPNG_PREAMBLE = (1, _SECRETS)  # interface description, decryption secrets: every slice needs those seen so far
_MAX_RECORD = 1 << 28  # a record length beyond this is damage, not a packet


class _Unsliceable(Exception):
    """The framing changes part-way through (a new interface or section): slices could not share a header."""


@dataclass(frozen=True, slots=True)
class Slice:
    """Bytes ``[start, end)`` of the file, after the ``header`` bytes ``[0, header)``; its first record is
    frame ``base + 1`` of the whole capture; it answers for frames ``first`` .. ``last`` (1-based, inclusive;
    ``last`` is None for the final slice, which runs to the end of the file, damage included)."""

    header: int
    start: int
    end: int
    base: int
    first: int
    last: int | None


_PROGRESS = 1 << 26  # ``passed`` is told every 64 MB


def plan(
    buffer: bytes | memoryview, size: int, overlap: int, passed: Callable[[int], None] | None = None
) -> list[Slice] | None:
    """Slices of ``size`` records each (the last one takes the remainder), each led by ``overlap`` records
    of the slice before; None when the file holds fewer than two slices' worth or cannot be sliced.
    ``passed(offset)`` is called as the walk moves on (a mapped file can let go of the pages behind)."""
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    walk = _walk(buffer)
    if walk is None:
        return None
    header, records = walk
    marks: dict[int, int] = {}  # record index -> its offset, only where a slice starts or its lead begins
    count = 0
    told = 0
    try:
        for offset in records:
            if count % size == 0 or (count + overlap) % size == 0:
                marks[count] = offset
                if passed is not None and offset - told > _PROGRESS:
                    passed(offset)
                    told = offset
            count += 1
    except _Unsliceable:
        return None
    if count < 2 * size:
        return None
    out = []
    first = 0
    while True:
        lead = max(0, first - overlap)
        last = first + size if first + 2 * size <= count else None
        end = marks[last] if last is not None else len(buffer)
        out.append(Slice(header, marks[lead], end, lead, first + 1, last))
        if last is None:
            return out
        first = last


def follows(head: bytes) -> bool:
    """Whether a file starting with ``head`` (its first 4 bytes) is in a framing this module follows: pcap
    (either byte order, micro- or nanoseconds) or pcapng. Other formats tshark reads are not sliced."""
    return head[:4] in _PCAP_MAGICS or head[:4] == _PCAPNG_SHB


def holds_secrets(buffer: bytes | memoryview) -> bool:
    """Whether a pcapng's preamble holds a Decryption Secrets Block: its TLS is decrypted only by a tshark
    that reads each connection from its handshake, so such a file is read whole, not in slices."""
    walked = _walk(buffer) if bytes(buffer[:4]) == _PCAPNG_SHB else None
    if walked is None:
        return False
    order = "<" if bytes(buffer[8:12]) == b"\x4d\x3c\x2b\x1a" else ">"
    unpack = struct.Struct(order + "I").unpack_from
    offset = 0
    while offset + 8 <= walked[0]:
        if unpack(buffer, offset)[0] == _SECRETS:
            return True
        offset += unpack(buffer, offset + 4)[0]
    return False


def feature_sync_share(buffer: bytes, records: int = 20_000) -> float | None:
    """The share of the first ``records`` packet records whose bytes name the event package (None when the
    framing is not one this module follows): about how much of the capture will be parsed and judged, not
    merely dissected and skipped. ``buffer`` is bytes or an ``mmap`` (their ``find`` looks in place)."""
    walked = _walk(buffer)
    if walked is None:
        return None
    try:
        offsets = list(islice(walked[1], records + 1))
    except _Unsliceable:
        return None
    if len(offsets) <= records:
        offsets.append(len(buffer))  # the whole file: its last record ends with it
    if len(offsets) < 2:
        return 0.0
    needle = PACKAGE.encode()
    hits = sum(1 for start, end in pairwise(offsets) if buffer.find(needle, start, end) >= 0)
    return hits / (len(offsets) - 1)


def _walk(buffer: bytes | memoryview) -> tuple[int, Iterator[int]] | None:
    """The header length and an iterator of every packet record's offset, or None when the framing is not
    one this module follows. Records after damage (a length running past the end, or absurd) are not
    listed: the final slice carries them to tshark as they are."""
    head = bytes(buffer[:4])
    if head in _PCAP_MAGICS and len(buffer) >= 24:
        return 24, _pcap_records(buffer, _PCAP_MAGICS[head])
    if head == _PCAPNG_SHB and len(buffer) >= 12:
        magic = bytes(buffer[8:12])
        order = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">" if magic == b"\x1a\x2b\x3c\x4d" else None
        if order is None:
            return None
        return _pcapng_preamble(buffer, order)
    return None


def _pcap_records(buffer: bytes | memoryview, order: str) -> Iterator[int]:
    unpack = struct.Struct(order + "I").unpack_from
    offset, size = 24, len(buffer)
    while offset + 16 <= size:
        length = unpack(buffer, offset + 8)[0]
        if length > _MAX_RECORD or offset + 16 + length > size:
            return
        yield offset
        offset += 16 + length


def _pcapng_preamble(buffer: bytes | memoryview, order: str) -> tuple[int, Iterator[int]] | None:
    """The section header and interface blocks come first and are every slice's header; a file that
    describes interfaces later, or starts a second section, is not sliced."""
    unpack = struct.Struct(order + "II").unpack_from
    offset, size = 0, len(buffer)
    while offset + 12 <= size:
        kind, length = unpack(buffer, offset)
        if length < 12 or length % 4 or offset + length > size:
            return None
        if kind in _PCAPNG_PACKETS:
            break
        if offset and kind not in _PCAPNG_PREAMBLE:
            break  # name resolution, statistics ...: fine to copy into the body of a slice
        offset += length
    return offset, _pcapng_records(buffer, order, offset)


def _pcapng_records(buffer: bytes | memoryview, order: str, offset: int) -> Iterator[int]:
    unpack = struct.Struct(order + "II").unpack_from
    size = len(buffer)
    while offset + 12 <= size:
        kind, length = unpack(buffer, offset)
        if length < 12 or length % 4 or length > _MAX_RECORD or offset + length > size:
            return
        if kind in _PCAPNG_PREAMBLE or bytes(buffer[offset : offset + 4]) == _PCAPNG_SHB:
            raise _Unsliceable
        if kind in _PCAPNG_PACKETS:
            yield offset
        offset += length
