"""Dialogs at rest, packed: the transactions of a subscription that saw no traffic for a while, as one
zlib-compressed pickle, read back the moment anything asks for them.

A long capture's open subscriptions are its memory: where every subscription is still running when the
capture ends (a re-subscription storm, the dense benchmark shape), each holds its raw messages, their
observations and its parsed documents until the end, about 8 KB. Packed, with the first packed dialog's own
pickle as zlib's preset dictionary (the dialogs of one capture share nearly all their words), one takes about
300 bytes. The dictionary travels with each packed dialog (one shared object), so a dialog unpacks wherever
it is read.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

_WINDOW = 32 * 1024  # what zlib reads of a preset dictionary: its last 32 KB


def squeeze(value: Any, zdict: bytes | None = None, level: int = 6) -> bytes:
    """``value`` pickled and compressed (with a preset dictionary, when given)."""
    raw = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    compressor = zlib.compressobj(level, zdict=zdict) if zdict is not None else zlib.compressobj(level)
    return compressor.compress(raw) + compressor.flush()


def stretch(blob: bytes, zdict: bytes | None = None) -> Any:
    decompressor = zlib.decompressobj(zdict=zdict) if zdict is not None else zlib.decompressobj()
    return pickle.loads(decompressor.decompress(blob) + decompressor.flush())


class Packer:
    """Packs the values of one capture (one engine), all with the dictionary taken from the first."""

    def __init__(self) -> None:
        self.zdict: bytes | None = None

    def pack(self, value: Any) -> tuple[bytes, bytes]:
        if self.zdict is None:
            self.zdict = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)[-_WINDOW:]
        return self.zdict, squeeze(value, self.zdict)


def unpack(packed: tuple[bytes, bytes]) -> Any:
    zdict, blob = packed
    return stretch(blob, zdict)
