"""``fks as --workers N``: N processes behind one UDP port (SO_REUSEPORT), each holding its share of the users.

Why: one Python process saturates near 4,300 subscriptions/s; a storm of 5,000/s needs the machine's other core.
The parent reserves the port, forks the shares (``peers.io.shards``), waits until each listens and has opened
its streams to the others, then closes its own socket (a socket of the port's group that nobody reads would
swallow its part of the traffic). It serves the portal, relaying each request to the share holding the user,
and stops the shares on Ctrl-C or SIGTERM. A share that dies stops the AS with one line: a missing share would
silently lose its users' datagrams.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from analyzer.observation import Endpoint
from peers.io import loops
from peers.io.portal import path_user, serve_portal
from peers.io.serve import (
    AsOptions,
    UsersError,
    application_server,
    describe_mode,
    flush_log,
    log_admits,
    log_line,
    os_reason,
    set_log_rate,
    until_stopped,
)
from peers.io.shards import SharedUdpPeer, portal_request, serve_portal_share
from peers.sansio.glance import shard_of_user
from peers.sansio.outgoing import Outgoing

READY_TIMEOUT = 10.0  # seconds a share may take to listen, and then to connect to the others
MAX_WORKERS = 64


class _AtomicLines:
    """A share's stdout: whole lines, written in pieces of at most PIPE_BUF bytes, so the shares' log lines
    never cut into each other on the pipe they share."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        data = "".join(self.parts).encode("utf-8", "replace")
        self.parts.clear()
        while data:
            cut = len(data) if len(data) <= select.PIPE_BUF else data.rfind(b"\n", 0, select.PIPE_BUF) + 1
            cut = cut or select.PIPE_BUF  # a line longer than PIPE_BUF: no atomic write can hold it
            try:
                os.write(1, data[:cut])
            except OSError:  # stdout closed: the lines are lost, the AS goes on
                return
            data = data[cut:]


def _share_main(opts: AsOptions, share: int, shares: int, group: str, conn: Any, reserve: socket.socket) -> None:
    reserve.close()  # the parent's copy goes once all listen; this one, inherited, would keep it in the group
    sys.stdout = _AtomicLines()  # type: ignore[assignment]
    try:
        loops.run(_serve_share(opts, share, shares, group, conn))
    except Exception as exc:  # told to the parent, which says it in one line
        with contextlib.suppress(OSError):
            conn.send(f"error: {exc}")
    finally:
        sys.stdout.flush()


async def _serve_share(opts: AsOptions, share: int, shares: int, group: str, conn: Any) -> None:
    set_log_rate(-(-opts.log_rate // shares))  # --log-rate is the AS's: each process writes its share of it
    server = application_server(opts)
    peer = SharedUdpPeer(
        server.receive, on_message=log_line, keep_log=False, wants=log_admits, share=share, shares=shares, group=group
    )
    peer.gave_up = server.failed
    server.local = await peer.start(opts.listen.host, opts.listen.port)
    portal = await serve_portal_share(server, peer, group, share) if opts.portal is not None else None
    conn.send("listening")
    if await asyncio.get_running_loop().run_in_executor(None, conn.recv) != "connect":
        return
    await peer.connect()
    conn.send("ready")
    try:
        await until_stopped(lambda: peer.send(server.due(time.time())))
    finally:
        peer.close()
        flush_log()
        if portal is not None:
            portal.close()


@dataclass
class _Relay:
    """The parent's portal: each request handled by the share holding its user."""

    group: str
    shares: int

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes, list[Outgoing]]:
        share = shard_of_user(path_user(path) or "", self.shares)
        status, payload = portal_request(self.group, share, method, path, body)
        return status, payload, []


def _error(text: str) -> int:
    print(f"fks: error: {text}", file=sys.stderr, flush=True)
    return 2


def _await(shares: list[tuple[multiprocessing.process.BaseProcess, Any]], word: str) -> str | None:
    """None once every share said ``word``; else what went wrong, in one line."""
    for proc, conn in shares:
        if not conn.poll(READY_TIMEOUT):
            return f"AS process {proc.name} did not start within {READY_TIMEOUT:g} s"
        try:
            said = conn.recv()
        except (EOFError, OSError):  # the share ended without a word (killed, or out of memory)
            return f"AS process {proc.name} ended while starting (exit {proc.exitcode})"
        if said != word:
            return f"AS process {proc.name}: {str(said).removeprefix('error: ')}"
    return None


def _stop(shares: list[tuple[multiprocessing.process.BaseProcess, Any]]) -> None:
    for proc, _ in shares:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: the share stops as fks as does
    for proc, _ in shares:
        proc.join(READY_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()


def run_as_workers(opts: AsOptions, workers: int) -> int:
    """Run the AS as ``workers`` processes until Ctrl-C or SIGTERM; 2 when it cannot start, 1 if a share died."""
    if opts.transport != "udp":
        return _error("--workers shares a UDP port: use it with --transport udp")
    try:
        server = application_server(opts)  # the users file is read here first: its error, in one line
    except UsersError as exc:
        return _error(str(exc))
    family = socket.AF_INET6 if ":" in opts.listen.host else socket.AF_INET
    reserve = socket.socket(family, socket.SOCK_DGRAM)
    try:
        # First without SO_REUSEPORT: a port that another process holds (another fks as --workers among
        # them, whose sockets would let ours join its group and split its traffic) is refused here.
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((opts.listen.host, opts.listen.port))
            port = probe.getsockname()[1]
        reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserve.bind((opts.listen.host, port))
    except OSError as exc:
        reserve.close()
        return _error(f"cannot listen on {opts.listen}: {os_reason(exc)}")
    opts = dataclasses.replace(opts, listen=Endpoint(opts.listen.host, port))
    group = f"{os.getpid()}-{time.monotonic_ns()}"
    context = multiprocessing.get_context("fork")  # the shares start from this process's state, at once
    shares = []
    for share in range(workers):
        ours, theirs = context.Pipe()
        proc = context.Process(
            target=_share_main,
            args=(opts, share, workers, group, theirs, reserve),
            name=f"fks-as-{share}",
            daemon=True,
        )
        proc.start()
        shares.append((proc, ours))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        problem = _await(shares, "listening")
        if problem is None:
            for _, conn in shares:
                conn.send("connect")
            problem = _await(shares, "ready")
        reserve.close()
        if problem is not None:
            return _error(problem)
        httpd = None
        if opts.portal is not None:
            try:
                httpd = serve_portal(
                    _Relay(group, workers), lambda _: None, None, opts.portal.host, opts.portal.port,
                    opts.portal_token,
                )  # fmt: skip
            except (ValueError, OSError) as exc:
                return _error(f"portal: {exc}")
        mode = f"{describe_mode(opts, server)}; {workers} processes"
        print(f"fks as: listening on udp {opts.listen} ({mode})", flush=True)
        if httpd is not None:
            print(f"fks as: portal on http://{opts.portal.host}:{httpd.server_address[1]}", flush=True)
        code = _watch(shares, stop)
        if httpd is not None:
            httpd.shutdown()
        return code
    finally:
        _stop(shares)
        print("fks as: stopped", flush=True)


def _watch(shares: list[tuple[multiprocessing.process.BaseProcess, Any]], stop: threading.Event) -> int:
    """Until stopped: 0; 1 as soon as a share ends on its own."""
    while not stop.is_set():
        multiprocessing.connection.wait([proc.sentinel for proc, _ in shares], timeout=1.0)
        dead = [proc for proc, _ in shares if not proc.is_alive()]
        if dead and not stop.is_set():
            print(f"fks: error: AS process {dead[0].name} ended (exit {dead[0].exitcode}): stopping", file=sys.stderr)
            return 1
    return 0
