"""Run a sans-IO peer over a kernel UDP socket with asyncio (no privileges needed).

``UdpPeer`` hands every datagram to the peer's ``handler(data, src, now)`` and sends what it returns.
Requests (``Outgoing.request``) are retransmitted as RFC 3261 section 17.1.2 says for non-INVITE
transactions: Timer E from T1 doubling up to T2, until a response with the same branch arrives; Timer F
(64*T1) gives up. Every message sent or received is recorded as an ``Observation`` (the peer's message log,
one of the two records a live scenario is judged on) and reported to ``on_message`` (one log line each).
Binds to loopback by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipError, StreamFramer, parse_message
from analyzer.sip.peek import peek_branch
from peers.sansio.outgoing import Outgoing

T1, T2 = 0.5, 4.0
RECEIVE_BUFFER = 4 * 1024 * 1024  # the kernel caps it at net.core.rmem_max
_log = logging.getLogger(__name__)
Handler = Callable[[bytes, Endpoint, float], list[Outgoing]]


def _branch(data: bytes) -> str | None:
    """The top Via branch: peeked at (a 200 to every NOTIFY of a storm), parsed when not plainly there."""
    found = peek_branch(data)
    if found is not None:
        return found
    try:
        return parse_message(data).branch
    except SipError:
        return None


@dataclass
class _Pending:
    outgoing: Outgoing
    interval: float
    deadline: float
    due: float  # when Timer E next fires
    timer: asyncio.TimerHandle | None = None


class Signal:
    """What waiters wait on: a condition, and how many wait (with none, a message wakes no one: the hot path
    of a storm). Two peers may share one, so a wait wakes on either's traffic."""

    def __init__(self) -> None:
        self.condition = asyncio.Condition()
        self.waiting = 0


@dataclass
class _Peer:
    """What every transport shares: the handler, the message log, and waiting on what the log shows."""

    handler: Handler
    on_message: Callable[[str, Observation], None] | None = None
    observations: list[Observation] = field(default_factory=list)
    keep_log: bool = True  # False for long-running peers (fks as): log lines only, memory stays flat
    wants: Callable[[float], bool] | None = None  # whether on_message takes a message at this time (a rate cap)
    gave_up: Callable[[Outgoing], None] | None = None  # told of each request that Timer F ended unanswered
    _count: int = 0
    local: Endpoint = field(default_factory=lambda: Endpoint("127.0.0.1", 0))
    _changed: Signal | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def wake_with(self, other: _Peer) -> None:
        """Share ``other``'s signal (both started): a wait on either peer wakes on either's traffic."""
        self._changed = other._changed

    def _record(self, direction: str, src: Endpoint, dst: Endpoint, data: bytes, transport: str = "udp") -> None:
        self._count += 1
        now = time.time()
        tell = self.on_message if self.wants is None or self.wants(now) else None
        if self.keep_log or tell is not None:  # a storm past the log's cap makes no Observation at all
            obs = Observation(self._count, now, src, dst, transport, data)
            if self.keep_log:
                self.observations.append(obs)
            if tell is not None:
                tell(direction, obs)
        self._wake()

    def _wake(self) -> None:
        """Re-check the waiters' conditions soon (the task is kept until done: the loop holds tasks weakly)."""
        if self._changed is None or not self._changed.waiting:
            return
        task = asyncio.get_running_loop().create_task(self._notify_waiters())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify_waiters(self) -> None:
        assert self._changed is not None
        async with self._changed.condition:
            self._changed.condition.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checked on every message; TimeoutError after ``timeout``."""
        assert self._changed is not None
        signal = self._changed
        signal.waiting += 1
        try:
            async with signal.condition:
                await asyncio.wait_for(signal.condition.wait_for(predicate), timeout)
        finally:
            signal.waiting -= 1

    def _handle(self, data: bytes, src: Endpoint) -> None:
        try:
            self.send(self.handler(data, src, time.time()))
        except Exception:  # a peer's defect on one message must not stop the others, nor go unseen
            _log.exception("peer failed on a message from %s", src)

    def send(self, outgoing: list[Outgoing] | Outgoing) -> None:
        raise NotImplementedError


@dataclass
class UdpPeer(_Peer, asyncio.DatagramProtocol):
    t1: float = T1
    reuse_port: bool = False  # SO_REUSEPORT: several processes share the port (fks as --workers)
    _transport: asyncio.DatagramTransport | None = None
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None  # kept: asking for it costs a getpid() per request sent

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        loop = self._loop = asyncio.get_running_loop()
        self._changed = Signal()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(host, port), reuse_port=self.reuse_port or None
        )
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # a base of 250 handsets restarting is a burst: room for it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sockname = transport.get_extra_info("sockname")
        self.local = Endpoint(sockname[0], sockname[1])
        return self.local

    def close(self) -> None:
        for pending in self._pending.values():
            if pending.timer:
                pending.timer.cancel()
        self._pending.clear()
        if self._transport is not None:
            self._transport.close()

    @property
    def idle(self) -> bool:
        """No request of ours is waiting for its final response (every client transaction is complete)."""
        return not self._pending

    def abandon(self, branches: list[str]) -> None:
        """Stop retransmitting these requests: their transactions were given up (a handset re-subscribing)."""
        for branch in branches:
            pending = self._pending.pop(branch, None)
            if pending is not None and pending.timer:
                pending.timer.cancel()

    # -- sending -------------------------------------------------------------------------------------------
    def send(self, outgoing: list[Outgoing] | Outgoing) -> None:
        for out in [outgoing] if isinstance(outgoing, Outgoing) else outgoing:
            self._send(out)
            branch = (out.branch or _branch(out.data)) if out.request else None
            if branch:
                loop = self._loop or asyncio.get_running_loop()
                pending = _Pending(out, self.t1, loop.time() + 64 * self.t1, loop.time() + self.t1)
                self._pending[branch] = pending
                pending.timer = loop.call_later(self.t1, self._retransmit, branch)

    def _send(self, out: Outgoing) -> None:
        if self._transport is None:
            raise RuntimeError("peer not started")
        self._transport.sendto(out.data, (out.dst.host, out.dst.port))
        self._record("send", self.local, out.dst, out.data)

    def _retransmit(self, branch: str) -> None:
        pending = self._pending.get(branch)
        if pending is None:
            return
        loop = self._loop or asyncio.get_running_loop()
        left = pending.deadline - loop.time()
        if left <= 0.001:
            del self._pending[branch]  # Timer F: the transaction failed; the rules will say so
            self._wake()
            if self.gave_up is not None:
                self.gave_up(pending.outgoing)
            return
        if pending.due - loop.time() <= 0.001:  # Timer E: another copy
            self._send(pending.outgoing)
            pending.interval = min(pending.interval * 2, T2)
            pending.due = loop.time() + pending.interval
        # Timer F runs on its own clock (64*T1 after the first copy), not at the next Timer E
        pending.timer = loop.call_later(min(pending.due - loop.time(), left), self._retransmit, branch)

    # -- receiving -----------------------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        src = Endpoint(addr[0], addr[1])
        self._record("recv", src, self.local, data)
        if data[:8] == b"SIP/2.0 ":
            branch = _branch(data)
            pending = self._pending.get(branch or "")
            if pending is not None and not data.startswith(b"SIP/2.0 1"):
                if pending.timer:
                    pending.timer.cancel()
                del self._pending[branch or ""]
        self._handle(data, src)

    def error_received(self, exc: Exception) -> None:  # ICMP errors on loopback: nothing to do
        pass


@dataclass
class _Connection:
    """One TCP connection: its framer, its writer once connected, and what waits to be written."""

    local: Endpoint
    remote: Endpoint
    writer: asyncio.StreamWriter | None = None
    backlog: list[bytes] = field(default_factory=list)


@dataclass
class TcpPeer(_Peer):
    """SIP over TCP (RFC 3261 section 18.3): messages cut from the stream by Content-Length, several per read or
    one over several reads; a connection is reused in both directions (the AS sends its NOTIFYs back on the
    base's connection, as a server behind NAT must). TCP is reliable, so nothing is retransmitted; Timer F
    still ends a transaction that gets no final response. A stream that cannot be framed is closed.
    """

    t1: float = T1
    wire: str = "tcp"  # the transport the message log names ("tls" for TlsPeer)
    idle_timeout: float = 120.0  # a connection that delivers no complete message for this long is closed
    max_connections: int = 1024  # beyond this, new connections are refused (a flood of half-open ones)
    _server: asyncio.AbstractServer | None = None
    _connections: dict[Endpoint, _Connection] = field(default_factory=dict)
    _pending: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        self._changed = Signal()
        self._server = await asyncio.get_running_loop().create_server(self._protocol, host, port)
        sockname = self._server.sockets[0].getsockname()
        self.local = Endpoint(sockname[0], sockname[1])
        return self.local

    def _protocol(self) -> asyncio.StreamReaderProtocol:
        """An accepted connection's protocol (``asyncio.start_server``'s; TlsPeer pauses it for the handshake)."""
        loop = asyncio.get_running_loop()
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), self._accepted, loop=loop)

    def close(self) -> None:
        for timer in self._pending.values():
            timer.cancel()
        self._pending.clear()
        for conn in self._connections.values():
            if conn.writer is not None:
                conn.writer.close()
        self._connections.clear()
        if self._server is not None:
            self._server.close()

    @property
    def idle(self) -> bool:
        return not self._pending

    def abandon(self, branches: list[str]) -> None:
        """Forget these requests' Timer F: their transactions were given up (a handset re-subscribing)."""
        for branch in branches:
            timer = self._pending.pop(branch, None)
            if timer is not None:
                timer.cancel()

    # -- sending -------------------------------------------------------------------------------------------
    def send(self, outgoing: list[Outgoing] | Outgoing) -> None:
        for out in [outgoing] if isinstance(outgoing, Outgoing) else outgoing:
            conn = self._connections.get(out.dst)
            if conn is None:
                conn = self._connections[out.dst] = _Connection(self.local, out.dst)
                self._spawn(self._connect(conn))
            if conn.writer is None:
                conn.backlog.append(out.data)
            else:
                self._write(conn, out.data)
            branch = (out.branch or _branch(out.data)) if out.request else None
            if branch:
                loop = asyncio.get_running_loop()
                self._pending[branch] = loop.call_later(64 * self.t1, self._timeout, branch, out)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, conn: _Connection, data: bytes) -> None:
        assert conn.writer is not None
        conn.writer.write(data)
        self._record("send", conn.local, conn.remote, data, self.wire)

    def _timeout(self, branch: str, out: Outgoing) -> None:
        if self._pending.pop(branch, None) is not None:
            self._wake()  # Timer F: the transaction failed; the rules will say so
            if self.gave_up is not None:
                self.gave_up(out)

    async def _open(self, remote: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``remote`` (TlsPeer: with its handshake done)."""
        return await asyncio.open_connection(remote.host, remote.port)

    async def _secure(self, writer: asyncio.StreamWriter) -> bool:
        """What an accepted connection goes through before its first message (TlsPeer: the handshake)."""
        return True

    async def _connect(self, conn: _Connection) -> None:
        try:
            reader, writer = await self._open(conn.remote)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            _log.warning("cannot connect to %s: %s", conn.remote, exc or type(exc).__name__)
            self._connections.pop(conn.remote, None)
            return
        sockname = writer.get_extra_info("sockname")
        conn.local, conn.writer = Endpoint(sockname[0], sockname[1]), writer
        for data in conn.backlog:
            self._write(conn, data)
        conn.backlog.clear()
        await self._read(conn, reader)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.max_connections:
            writer.close()  # bounded state: a flood of connections must not take the peer down
            return
        if not await self._secure(writer):
            writer.close()
            return
        peername = writer.get_extra_info("peername")
        conn = _Connection(self.local, Endpoint(peername[0], peername[1]), writer)
        self._connections[conn.remote] = conn
        await self._read(conn, reader)

    # -- receiving -----------------------------------------------------------------------------------------
    async def _read(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        framer = StreamFramer()
        last_message = time.monotonic()
        try:
            while True:
                left = self.idle_timeout - (time.monotonic() - last_message)
                chunk = await asyncio.wait_for(reader.read(65536), max(left, 0.001))
                if not chunk:
                    break
                for data in framer.feed(chunk):
                    last_message = time.monotonic()
                    self._received(conn, data)
        except SipError as exc:
            _log.warning("closing the connection from %s: %s", conn.remote, exc)
        except TimeoutError:
            _log.info("closing the idle or trickling connection from %s", conn.remote)  # slowloris, half-open
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if self._connections.get(conn.remote) is conn:
                del self._connections[conn.remote]
            if conn.writer is not None:
                conn.writer.close()

    def _received(self, conn: _Connection, data: bytes) -> None:
        self._record("recv", conn.remote, conn.local, data, self.wire)
        if data[:8] == b"SIP/2.0 " and not data.startswith(b"SIP/2.0 1"):
            timer = self._pending.pop(_branch(data) or "", None)
            if timer is not None:
                timer.cancel()
        self._handle(data, conn.remote)
