"""The judged subscriptions of an audit kept as compressed JSON text, in bounded memory.

A dense capture of a million messages has 250,000 subscriptions of 27 verdicts each; kept as ``Result``s
until the report is written they took about 16 KB each, gigabytes in all, in the process that writes the
report. Each subscription is written as its JSON text (as the report will hold it) the moment it is judged,
texts are packed into zlib blocks, and only four numbers per subscription stay uncompressed. Sans-IO: the
blocks live in memory (they also cross process boundaries, from a Dask worker's share), never in files.

Reading is in report order (the first frame of each subscription), whatever order they were judged in:
``texts()`` for the JSON writer, which copies them, and iteration for the other writers, which get each
subscription as the dict ``json`` reads from its text.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

BLOCK = 1 << 18  # bytes of text per compressed block
CACHED = 16  # blocks kept decompressed while reading (subscriptions are judged roughly in report order)


class Spilled:
    """Subscriptions' JSON texts, each with its first frame; their verdict words counted as they come."""

    def __init__(self) -> None:
        self._first = array("q")  # first frame of each subscription, in the order added
        self._block = array("l")  # its block
        self._offset = array("l")  # where its text starts in the decompressed block
        self._length = array("l")
        self._blocks: list[bytes] = []
        self._open: list[bytes] = []
        self._open_size = 0
        self.counts: Counter[str] = Counter()  # verdict word -> how many, over every subscription

    def add(self, first: int, text: str, verdicts: Sequence[str]) -> None:
        """One judged subscription: its first frame, its JSON text and its verdict words."""
        data = text.encode("utf-8")
        self._first.append(first)
        self._block.append(len(self._blocks))
        self._offset.append(self._open_size)
        self._length.append(len(data))
        self._open.append(data)
        self._open_size += len(data)
        self.counts.update(verdicts)
        if self._open_size >= BLOCK:
            self.seal()

    def seal(self) -> None:
        """Compress what is still open (before the texts are read or the object travels)."""
        if self._open:
            self._blocks.append(zlib.compress(b"".join(self._open), 1))
            self._open, self._open_size = [], 0

    def __getstate__(self) -> dict[str, Any]:
        self.seal()
        return {name: getattr(self, name) for name in ("_first", "_block", "_offset", "_length", "_blocks", "counts")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open, self._open_size = [], 0

    def __len__(self) -> int:
        return len(self._first)

    @classmethod
    def merge(cls, parts: Sequence[Spilled]) -> Spilled:
        """Several shares' subscriptions as one (a capture judged in shares on a Dask cluster): the blocks
        are taken over as they are, only the positions are joined."""
        whole = cls()
        for part in parts:
            part.seal()
            base = len(whole._blocks)
            whole._first.extend(part._first)
            whole._block.extend(array("l", (b + base for b in part._block)))
            whole._offset.extend(part._offset)
            whole._length.extend(part._length)
            whole._blocks.extend(part._blocks)
            whole.counts.update(part.counts)
        return whole

    @property
    def compressed_bytes(self) -> int:
        return sum(map(len, self._blocks))

    def _sorted(self) -> Iterator[tuple[int, int]]:
        """(first frame, position) in report order."""
        first = self._first
        for n in sorted(range(len(first)), key=first.__getitem__):
            yield first[n], n

    def _reader(self) -> _Reader:
        self.seal()
        return _Reader(self)

    def texts(self) -> Iterator[str]:
        """Every subscription's JSON text, in report order."""
        reader = self._reader()
        for _, n in self._sorted():
            yield reader.text(n)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for text in self.texts():
            yield json.loads(text)


class _Reader:
    """Texts out of the blocks, a few blocks kept decompressed."""

    def __init__(self, spilled: Spilled) -> None:
        self.spilled = spilled
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def text(self, n: int) -> str:
        s = self.spilled
        block = s._block[n]
        data = self._cache.get(block)
        if data is None:
            data = zlib.decompress(s._blocks[block])
            self._cache[block] = data
            if len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(block)
        start = s._offset[n]
        return data[start : start + s._length[n]].decode("utf-8")
