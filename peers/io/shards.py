"""One process of ``fks as --workers N``: its share of the users, on the UDP port all N listen on.

The kernel spreads the datagrams over the sockets bound with SO_REUSEPORT by the sender's address, not by user,
so a datagram may reach a process that does not hold its user (``peers.sansio.glance`` says who does). That
process hands the datagram, with the sender's address, to the holder over a Unix stream (buffered by asyncio:
a burst is queued, never dropped, and no process ever blocks on another), and the holder handles it as if it had
received it, answering from the shared port. The portal's requests reach the holder the same way, on a second
Unix socket of each process (``portal_request``, called by the parent's HTTP server).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time
from dataclasses import dataclass, field

from analyzer.observation import Endpoint
from peers.io.portal import Portal
from peers.io.transport import UdpPeer
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.glance import shard_of

_FRAME = struct.Struct("!IH")  # bytes that follow the port, the sender's port; then the host, a NUL, the datagram
PORTAL_TIMEOUT = 10.0  # seconds the parent waits for a share to answer a portal request


def handoff_address(group: str, share: int) -> str:
    """The abstract Unix socket (no file to clean up) on which share ``share`` takes datagrams from the others."""
    return f"\0fks-as-{group}-{share}"


def portal_address(group: str, share: int) -> str:
    return f"\0fks-as-{group}-{share}-portal"


def listening(address: str) -> socket.socket:
    """A Unix stream socket listening on an abstract address (made here: uvloop takes a path for a C string,
    and an abstract address starts with NUL)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(64)
    sock.setblocking(False)
    return sock


def same_user(sock: object) -> bool:
    """Whether the process at the other end of a Unix connection runs as this one's user. An abstract
    address has no file permissions: any local user could connect and hand the AS datagrams with a forged
    sender, or change a user's features, so connections of other users are closed unread."""
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))  # type: ignore[attr-defined]
    return bool(uid == os.getuid())


def pack(data: bytes, src: tuple[str, int]) -> bytes:
    host = src[0].encode("ascii")
    return _FRAME.pack(len(host) + 1 + len(data), src[1]) + host + b"\0" + data


class _Inbox(asyncio.Protocol):
    """The datagrams another share handed over: frames cut from the stream, each handled as if received."""

    def __init__(self, peer: SharedUdpPeer) -> None:
        self.peer, self.buffer = peer, bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not same_user(transport.get_extra_info("socket")):
            transport.close()

    def data_received(self, chunk: bytes) -> None:
        self.buffer += chunk
        buffer, start = self.buffer, 0
        while len(buffer) - start >= _FRAME.size:
            length, port = _FRAME.unpack_from(buffer, start)
            end = start + _FRAME.size + length
            if len(buffer) < end:
                break
            host, _, data = bytes(buffer[start + _FRAME.size : end]).partition(b"\0")
            start = end
            self.peer.deliver(data, (host.decode("ascii"), port))
        del buffer[:start]  # once for all the frames of the chunk


@dataclass
class SharedUdpPeer(UdpPeer):
    """A ``UdpPeer`` on a port shared with the other shares: it keeps the datagrams of its own users and hands
    the rest to their holders."""

    reuse_port: bool = True
    share: int = 0
    shares: int = 1
    group: str = ""
    _outboxes: dict[int, asyncio.Transport] = field(default_factory=dict)
    _server: asyncio.AbstractServer | None = None
    _handed: dict[int, list[bytes]] = field(default_factory=dict)  # frames for each holder, not yet written

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        local = await super().start(host, port)
        loop = asyncio.get_running_loop()
        inbox = listening(handoff_address(self.group, self.share))
        self._server = await loop.create_unix_server(lambda: _Inbox(self), sock=inbox)
        return local

    async def connect(self) -> None:
        """Open the streams to every other share (each has started: the parent says when all have)."""
        loop = asyncio.get_running_loop()
        for other in range(self.shares):
            if other != self.share:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(handoff_address(self.group, other))  # a listening Unix socket accepts at once
                sock.setblocking(False)
                transport, _ = await loop.create_unix_connection(asyncio.Protocol, sock=sock)
                self._outboxes[other] = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        holder = shard_of(data, self.shares)
        outbox = self._outboxes.get(holder)
        if holder == self.share or outbox is None:
            super().datagram_received(data, addr)
            return
        if not self._handed:  # the first frame of this turn of the loop: all go in one write, after it
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._handed.setdefault(holder, []).append(pack(data, addr))

    def _hand_over(self) -> None:
        """Write the frames received in one turn of the loop, one write per holder (a write per datagram would
        be a system call per datagram, and a wake-up of the holder for each)."""
        handed, self._handed = self._handed, {}
        for holder, frames in handed.items():
            self._outboxes[holder].write(b"".join(frames))

    def deliver(self, data: bytes, addr: tuple[str, int]) -> None:
        """A datagram another share received for one of our users."""
        super().datagram_received(data, addr)

    def close(self) -> None:
        self._handed.clear()  # a hand-over still due finds nothing to write on the closed streams
        for outbox in self._outboxes.values():
            outbox.close()
        if self._server is not None:
            self._server.close()
        super().close()


async def serve_portal_share(server: ApplicationServer, peer: UdpPeer, group: str, share: int) -> asyncio.Server:
    """This share's end of the portal: one JSON request per connection, one JSON answer; the NOTIFYs that a
    change causes leave from here, where the user's subscriptions are."""
    portal = Portal(server, time.time)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not same_user(writer.get_extra_info("socket")):
            writer.close()
            return
        try:
            request = json.loads(await reader.readline())
            status, payload, notifies = portal.handle(
                request["method"], request["path"], request["body"].encode("latin-1")
            )
            peer.send(notifies)
            writer.write(json.dumps({"status": status, "body": payload.decode("latin-1")}).encode() + b"\n")
            await writer.drain()
        except (ValueError, KeyError, OSError):
            pass  # the parent answers 502 when it gets nothing back
        finally:
            writer.close()

    return await asyncio.start_unix_server(answer, sock=listening(portal_address(group, share)))


def portal_request(group: str, share: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """Ask share ``share`` to handle a portal request (blocking: the parent's HTTP threads call it)."""
    request = json.dumps({"method": method, "path": path, "body": body.decode("latin-1")}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PORTAL_TIMEOUT)
            sock.connect(portal_address(group, share))
            sock.sendall(request)
            with sock.makefile("rb") as answer:
                reply = json.loads(answer.readline())
        return int(reply["status"]), str(reply["body"]).encode("latin-1")
    except (OSError, ValueError, KeyError):
        return 502, f"the AS process holding this user did not answer (share {share})\n".encode()
