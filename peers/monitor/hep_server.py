"""The HEP receiver: one UDP and one TCP listener on the same address (capture agents use either). Each
datagram is one packet; a TCP connection is a stream of HEPv3 packets (``analyzer.sources.hep.HepStream``).
Decoded packets go to ``on_packet``; what does not decode goes to ``on_malformed`` and never stops the
receiver."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from analyzer.observation import Endpoint
from analyzer.sources.hep import HepError, HepPacket, HepStream, decode

PacketSink = Callable[[HepPacket, float], None]
MalformedSink = Callable[[str, str], None]  # (reason, sender)
BIND_ATTEMPTS = 20  # port 0: the UDP port chosen may be taken for TCP; try another, at most this often
RECEIVE_BUFFER = 8 << 20  # bursts of mirrored traffic must not overflow the UDP socket


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: HepReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        now = time.time()
        try:
            packet = decode(data)
        except HepError as exc:
            self.receiver.on_malformed(str(exc), f"udp {addr[0]}:{addr[1]}")
            return
        self.receiver.on_packet(packet, now)


class _Stream(asyncio.Protocol):
    def __init__(self, receiver: HepReceiver) -> None:
        self.receiver = receiver
        self.stream = HepStream()
        self.peer = "tcp ?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        addr = transport.get_extra_info("peername") or ("?", 0)
        self.peer = f"tcp {addr[0]}:{addr[1]}"
        self.receiver.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiver.connections = {t for t in self.receiver.connections if not t.is_closing()}

    def data_received(self, data: bytes) -> None:
        now = time.time()
        packets, errors = self.stream.feed(data)
        for reason in errors:
            self.receiver.on_malformed(reason, self.peer)
        for packet in packets:
            self.receiver.on_packet(packet, now)


@dataclass
class HepReceiver:
    on_packet: PacketSink
    on_malformed: MalformedSink
    connections: set[asyncio.BaseTransport] = field(default_factory=set)
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.AbstractServer | None = None

    async def start(self, where: Endpoint) -> Endpoint:
        """Listen on UDP and TCP at ``where`` (port 0: a free port both can have); returns the address."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in where.host else socket.AF_INET
        for _ in range(BIND_ATTEMPTS if where.port == 0 else 1):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            try:
                sock.bind((where.host, where.port))
            except OSError:
                sock.close()
                raise
            port = sock.getsockname()[1]
            try:
                self._tcp = await loop.create_server(lambda: _Stream(self), where.host, port, reuse_address=True)
            except OSError:
                sock.close()
                if where.port != 0:
                    raise
                continue
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), sock=sock)
            return Endpoint(where.host, port)
        raise OSError(f"no port free for both UDP and TCP on {where.host}")

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for transport in self.connections:
            transport.close()
