"""The event loop of the ``fks as`` / ``fks base`` processes: uvloop (libuv) where it is installed.

A storm is mostly loop overhead: for each datagram a wake-up, a callback, a ``sendto``. Measured here at
2,000 subscriptions/s from SIPp (``benchmarks/storm.py``), uvloop takes the AS's p99 SUBSCRIBE -> NOTIFY from
160-250 ms to 30-70 ms with the same code. The peers only use the asyncio API, so the standard loop (used by
the in-process ``Lab``, and wherever uvloop is missing) runs them unchanged.

TLS runs on the standard loop: a TLS peer puts the handshake of an accepted connection in itself (to log
and bound a failed one), and uvloop has read the ClientHello into the stream before that can happen, where
the standard loop lets the new connection pause its reading first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar, cast

T = TypeVar("T")


def _uvloop() -> ModuleType | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def run(main: Coroutine[Any, Any, T], fast: bool = True) -> T:
    """``asyncio.run`` on uvloop's loop when available (and ``fast``), else on the standard one."""
    uvloop = _uvloop() if fast else None
    return asyncio.run(main) if uvloop is None else cast(T, uvloop.run(main))


def name() -> str:
    """Which loop ``run`` uses (the benchmarks print it beside their figures)."""
    return "asyncio" if _uvloop() is None else "uvloop"
