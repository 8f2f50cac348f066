"""The Dask cluster an audit runs on: an existing one by its scheduler's address, or a local one of a few
worker processes that the command starts and stops (the user runs no service). Either way a ``Client``
and what the report records of it (``summary.engine``)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

CONNECT_TIMEOUT = 3.0  # seconds to reach a scheduler: an unreachable one is reported well within 10 s
WORKERS_TIMEOUT = 4.0  # seconds for a first worker to be there


class EngineError(Exception):
    """The cluster cannot be reached or used; ``str()`` is one line."""


def quiet() -> None:
    """Dask's informational logs would mix with the report's lines on stderr: only its errors show."""
    for name in ("distributed", "dask", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cores() -> int:
    return os.cpu_count() or 1


@dataclass
class Engine:
    """A connected client, the cluster the command started (None for an existing one) and its kind."""

    client: Any
    kind: str  # "local": started here; "dask": an existing cluster (--scheduler)
    cluster: Any = None

    @property
    def scheduler(self) -> str:
        return str(self.client.scheduler.address)

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def dashboard(self) -> str | None:
        """The dashboard's address when the scheduler serves one (it needs bokeh)."""
        services = self.client.scheduler_info(n_workers=0).get("services", {})
        return str(self.client.dashboard_link) if "dashboard" in services else None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "scheduler": self.scheduler, "workers": self.workers}

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=10)


IN_PROCESS = {"kind": "local", "scheduler": None, "workers": 1}


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Engine:
    """A client of the scheduler at ``address`` (``tcp://host:8786``) with at least one worker."""
    quiet()
    from distributed import Client

    started = time.monotonic()
    try:
        asyncio.run(_probe(address, timeout))
        left = max(1.0, timeout - (time.monotonic() - started))
        client = Client(address, timeout=left, set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {address}: {_line(exc)}") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise EngineError(f"the Dask scheduler at {address} has no worker: {_line(exc)}") from None
    return Engine(client, "dask")


async def _probe(address: str, timeout: float) -> None:
    """Connect and shake hands once, within ``timeout``: distributed waits for the scheduler's handshake
    without a limit, so a port that accepts connections and never answers would hang the command."""
    from distributed.comm import connect

    try:
        comm = await asyncio.wait_for(connect(address, timeout=max(0.5, timeout - 0.5)), timeout)  # its own says why
    except asyncio.TimeoutError:
        raise OSError(f"no Dask handshake within {timeout:g} s") from None
    await comm.close()


def start_local(jobs: int) -> Engine:
    """A cluster of ``jobs`` single-threaded worker processes on this machine, its scheduler on 127.0.0.1
    (any free port), no dashboard unless bokeh is installed; stopped by ``Engine.close``."""
    quiet()
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,  # a capture's failure is reported once, by fks
    )
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    return Engine(client, "local", cluster)


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
