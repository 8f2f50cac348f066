"""The long-running emulators' garbage collection: young objects collected on the loop's clock, survivors frozen
(``peers.io.serve.settle_heap``), the automatic collector off while they serve and back on after."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import weakref
from collections.abc import Iterator

import pytest

from peers.io import serve


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    """Whatever a test froze is handed back to the collector (this process goes on running tests)."""
    yield
    gc.unfreeze()
    gc.enable()


def test_a_young_cycle_is_collected_and_the_survivors_frozen(thawed: None) -> None:
    gc.disable()  # as while serving: only settle_heap may free the cycle
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
    gone = weakref.ref(a)
    kept = [_Node() for _ in range(100)]
    del a, b
    frozen = gc.get_freeze_count()
    try:
        assert gone() is not None
        serve.settle_heap()
    finally:
        gc.enable()
    assert gone() is None
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_the_automatic_collector_is_off_while_serving_and_back_on_after(thawed: None) -> None:
    seen: list[bool] = []

    async def serve_a_moment() -> None:
        def tick() -> None:
            seen.append(gc.isenabled())
            os.kill(os.getpid(), signal.SIGINT)  # until_stopped's own stop: its signal handler takes it

        await serve.until_stopped(tick)

    assert gc.isenabled()
    asyncio.run(serve_a_moment())
    assert seen == [False]
    assert gc.isenabled()
