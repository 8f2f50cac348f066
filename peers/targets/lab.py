"""The live exchange of a conformance scenario, recorded: what every lab shares (``peers.targets.labs`` has one
class per set of ends we play: both, the base only, the AS only).

A lab starts the AS emulator and/or the base emulator on real sockets (UDP, TCP, TLS or the scapy UDP transport),
optionally through the impairment relay, and records the wire with scapy when this process may sniff. Its
event loop runs in a thread of its own and every action is a blocking call that returns once the traffic it
causes has settled (each waits for the messages it needs, bounded by a timeout), so synchronous callers such
as pytest-bdd steps drive a live exchange without sleeping.

Two records come out of a run: ``observations`` (the base's message log) and ``capture()`` (a pcapng from the
wire, or, without capture privileges, from the log and marked so). DESIGN.md asks that both be judged alike.
A TLS run's capture carries the sessions' secrets (a Decryption Secrets Block), so it is audited as it is.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from analyzer.documents import FeatureDocument
from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipMessage
from peers.craft.packets import WirePlan
from peers.io.certs import LabTls, TlsFiles
from peers.io.impair import Impairment, UdpRelay
from peers.io.rawudp import ScapyUdpPeer, Shipped
from peers.io.recorder import Recorder, can_sniff, embed_secrets, write_from_log
from peers.io.tls import TlsPeer, tls_peer
from peers.io.transport import TcpPeer, UdpPeer
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.features import FeatureState
from peers.sansio.gigaset import Base, Handset
from peers.sansio.outgoing import Outgoing
from peers.sansio.profiles import PROFILES, Profile

T = TypeVar("T")
IP_ID = struct.Struct("!H")  # the identification field of an IPv4 header, at byte 4
TRANSPORTS = ("udp", "tcp", "tls", "scapy")
STREAMS = ("tcp", "tls")  # the transports over a connection


class LabError(RuntimeError):
    """A step of a live exchange did not happen in time: the message says which."""


@dataclass
class LabConfig:
    transport: str = "udp"
    profile: Profile = PROFILES["broadworks"]
    handsets: list[Handset] = field(default_factory=lambda: [Handset("1001", "example.test")])
    passwords: dict[str, str] = field(default_factory=dict)  # the AS's users; empty: an open lab AS
    states: dict[str, FeatureState] = field(default_factory=dict)
    algorithms: tuple[str, ...] = ("MD5",)
    max_expires: int = 3600
    expires: int = 3600  # what the base asks for
    impairment: Impairment | None = None
    wire: WirePlan | None = None  # how our AS's datagrams leave (transport scapy): fragments, checksum, TTL
    record: bool = True
    t1: float = 0.5
    timeout: float = 10.0
    # Scenario timing, not synchronisation: the gap kept between the last SUBSCRIBE and a change made on the
    # portal, so that the change is recognisably unsolicited (FKS-AS-1 looks back T_notify for a SUBSCRIBE).
    quiet: float = 0.0
    host: str = "127.0.0.1"
    remote: Endpoint | None = None  # the AS under test (a lab playing the base only)
    listen: Endpoint | None = None  # where our AS waits for a real base (a lab playing the AS only)
    operator_timeout: float = 120.0  # how long a person gets for a handset-menu action
    policy: Callable[[str, FeatureDocument], FeatureDocument | int | None] | None = None  # the AS's last word
    strict: bool = True  # a missing NOTIFY (or grant) raises LabError; off: the rules judge the absence
    follow_timeout: float = 5.0  # how long a real peer gets to send what a step brings about (T_notify)
    tls: TlsFiles = field(default_factory=TlsFiles)  # TLS files for a real device (the lab makes the rest)


class Unsupported(LabError):
    """The target cannot perform this step (a real AS's profile cannot be switched, ...): skip, with why."""


class Lab:
    """The ends we play, on sockets, with blocking actions. Subclasses say which ends: ``_start_as`` and
    ``_start_base`` start them, ``as_address`` and ``record_port`` say where the AS is and which port the
    record follows; the actions a lab cannot play raise ``Unsupported``."""

    # with both ends ours, everything a request brings about has been sent once the transactions settled
    settled_is_final = False

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        if self.config.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.config.transport!r} (one of {', '.join(TRANSPORTS)})")
        if self.config.impairment is not None and self.config.transport in STREAMS:
            raise ValueError("the impairment relay carries UDP only")
        # TLS: fresh certificates for loopback, and the sessions' key log that the capture will carry
        self.tls = LabTls(self.config.tls) if self.config.transport == "tls" else None
        via = {"tcp": "TCP", "tls": "TLS"}.get(self.config.transport, "UDP")
        # handset-menu actions of a real base are made by a person (or, in tests, a command): it is told here
        # ``operator(instruction, action)``: ``action`` is the same as a ``fks base --menu`` line ("dnd 1001 on")
        self.operator: Callable[[str, str], None] = lambda instruction, action: print(f"OPERATOR: {instruction}")
        # a change on a real AS's portal: a callable (user, feature document) given by the target
        self.portal: Callable[[str, bytes], None] | None = None
        self.server = ApplicationServer(
            Endpoint(self.config.host, 0),
            passwords=dict(self.config.passwords),
            max_expires=self.config.max_expires,
            states=dict(self.config.states),
            profile=self.config.profile,
            algorithms=self.config.algorithms,
            transport=via,
        )
        if self.config.policy is not None:
            self.server.policy = self.config.policy
        handsets = {h.label or h.user: h for h in self.config.handsets}
        self.base = Base(
            Endpoint(self.config.host, 0),
            Endpoint(self.config.host, 0),
            handsets,
            expires=self.config.expires,
            transport=via,
        )
        self.recorder: Recorder | None = None
        self._first = 0  # the log's first message of record (see _start)
        self._since: float | None = None  # when the record began, for the capture (see restart_record)
        self.relay: UdpRelay | None = None
        self.sniffing = self.config.record and can_sniff()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fks-lab", daemon=True)
        self._as_peer: UdpPeer | TcpPeer | None = None
        self._base_peer: UdpPeer | TcpPeer | None = None

    @property
    def _peer_of_record(self) -> UdpPeer | TcpPeer:
        """The peer whose log is the scenario's record: the phone side when we play it, else the AS."""
        peer = self._base_peer or self._as_peer
        assert peer is not None, "lab not started"
        return peer

    # -- life cycle ----------------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()
        self._run(self._start())

    async def _start(self) -> None:
        cfg = self.config
        target = await self._start_as()
        if cfg.impairment is not None:
            self.relay = UdpRelay(target, cfg.impairment)
            target = await self.relay.start(cfg.host, 0)  # only the base's hop is recorded (see below)
        await self._start_base(target)
        if self._as_peer is not None and self._base_peer is not None:
            self._as_peer.wake_with(self._base_peer)  # one condition: waits wake on either peer's traffic
        if self.sniffing:
            # One port selects the exchange. Over UDP the phone side's: playing the base, datagrams that
            # others send to the AS (garbage, a flood) are then in neither record. Over TCP the base connects
            # from an ephemeral port, so the AS's port, where every connection of the exchange ends.
            ports = [self.as_address.port if cfg.transport in STREAMS else self.record_port]
            self.recorder = Recorder(ports, tcp=cfg.transport in STREAMS)
            await asyncio.to_thread(self.recorder.start)
        # The record starts now: what a real peer sent before the capture ran (a base retransmitting its boot
        # SUBSCRIBE to an AS that was not up yet, and what our AS answered it) is in neither record, nor among
        # the shipments a wire step counts, so both records stay alike.
        self._first = len(self._peer_of_record.observations)
        self._since = time.time()

    async def _start_as(self) -> Endpoint:
        """Start our AS (if we play it); the address the base is to send to."""
        raise NotImplementedError

    async def _start_base(self, server: Endpoint) -> None:
        """Start our base (if we play it), sending to ``server``."""
        raise NotImplementedError

    @property
    def as_address(self) -> Endpoint:
        """Where the AS of the exchange listens (ours or the one under test)."""
        raise NotImplementedError

    @property
    def record_port(self) -> int:
        """The UDP port whose traffic is the record: the phone side's."""
        raise NotImplementedError

    def labels(self) -> dict[Endpoint, str]:
        """The ends we play, named for a ladder diagram."""
        return {}

    def _peer(self, handler: Callable[[bytes, Endpoint, float], list[Outgoing]], scapy: bool) -> UdpPeer | TcpPeer:
        t1 = self.config.t1
        if self.tls is not None:
            return tls_peer(handler, self.tls.options, t1=t1)
        if self.config.transport == "tcp":
            return TcpPeer(handler, t1=t1)
        return ScapyUdpPeer(handler, t1=t1, plan=self.config.wire) if scapy else UdpPeer(handler, t1=t1)

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        try:
            self.halt()
        finally:
            if self.recorder is not None:
                self.recorder.stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            if self.tls is not None:
                self.tls.close()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=(timeout or self.config.timeout) + 5)

    # -- records -------------------------------------------------------------------------------------------
    @property
    def decode_as(self) -> tuple[str, ...]:
        """What an audit of this lab's capture tells tshark: over TCP, SIP on every port. The record holds only
        this exchange, whose ephemeral ports may be ones tshark gives to another protocol (44818: EtherNet/IP),
        and a stream is framed by the port's dissector; over UDP the analyzer's SIP heuristic finds them. Over
        TLS every port is TLS and TLS carries SIP (a capture written from the log is plain TCP)."""
        if self.config.transport == "tls" and self.recorder is not None:
            return ("tcp.port==1-65535,tls", "tls.port==1-65535,sip")
        return ("tcp.port==1-65535,sip",) if self.config.transport in STREAMS else ()

    @property
    def observations(self) -> list[Observation]:
        """The message log of record: the base's (the phone side) when we play it, else the AS's."""
        return list(self._peer_of_record.observations[self._first :])

    def capture(self, path: str | Path) -> Path:
        """The wire capture as pcapng; from the message log (marked so) when this process cannot sniff.

        The record ends here: the peers stop receiving first, so a real peer's later traffic (the next
        retransmission, the next scenario's SUBSCRIBE) is in neither the log nor the capture."""
        self.halt()
        ended = time.time()
        if self.recorder is None:
            return write_from_log(path, self.observations)
        # at least one packet with data per message (more for fragments or a message over several segments)
        log = self.observations
        tls = self.tls is not None
        heads = () if tls else tuple(o.data[:48] for o in log[-3:])  # TLS: the wire shows no message's start
        if not self.recorder.wait_for(len(log), 5.0, payload=True, since=self._since, heads=heads, closed=tls):
            raise LabError("the capture holds fewer packets than the peers exchanged")
        # Both records begin with the log's first message: a stray datagram that reached the port while the
        # capture was starting (a long-running AS's NOTIFY to a port an earlier dialog used) is in neither.
        # (Over TCP the connection's handshake comes first and a stray packet has no connection to join.)
        since = self._since
        if log and self.config.transport not in STREAMS:
            since = self.recorder.first_time(log[0].data[:48], since)
        ours = {IP_ID.unpack_from(p, 4)[0] for s in self.shipments for p in s.shipment.packets}
        written = self.recorder.write(path, until=ended, since=since, ours=ours)
        return embed_secrets(written, self.tls.keylog) if self.tls is not None else written

    @property
    def shipments(self) -> list[Shipped]:
        """Every copy our AS sent as crafted packets since the record began (none over other transports)."""
        peer = self._as_peer
        if not isinstance(peer, ScapyUdpPeer):
            return []
        return [s for s in peer.shipments if self._since is None or s.time >= self._since]

    def attempts(self) -> list[Observation]:
        """What our AS sent and received, copies that left incomplete included (``ScapyUdpPeer.attempts``)."""
        peer = self._as_peer
        if peer is None:
            raise Unsupported("this target does not play the AS")
        seen = peer.attempts() if isinstance(peer, ScapyUdpPeer) else list(peer.observations)
        return [o for o in seen if self._since is None or o.time >= self._since]

    def restart_record(self) -> None:
        """The record begins now: what was exchanged so far (setting up a baseline) is in neither record.
        Over TLS the connections are closed first, so the record holds the handshakes it is decrypted with."""
        if self.tls is not None:
            self._hang_up()
        self._first = len(self._peer_of_record.observations)
        self._since = time.time()

    def _hang_up(self) -> None:
        async def hang_up() -> None:
            for peer in (self._base_peer, self._as_peer):
                if isinstance(peer, TlsPeer):
                    await peer.hang_up()

        self._run(hang_up())
        if self.recorder is not None and not self.recorder.wait_for(0, 5.0, closed=True):
            raise LabError("the TLS connections did not close")

    def halt(self) -> None:
        """Stop the peers (no message in or out any more); ``close`` still has to be called."""
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            for peer in (self._base_peer, self._as_peer):
                if peer is not None:
                    peer.close()
            if self.relay is not None:
                self.relay.close()
            await asyncio.sleep(0)  # let closing transports run their callbacks

        self._run(stop())

    # -- waiting -------------------------------------------------------------------------------------------
    def wait(self, what: str, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Block until ``predicate`` holds (re-checked on every message of the base); LabError names ``what``."""

        async def waiting() -> None:
            await self._peer_of_record.wait_until(predicate, timeout or self.config.timeout)

        try:
            self._run(waiting(), timeout)
        except TimeoutError:
            raise LabError(f"{what}: not within {timeout or self.config.timeout:g} s") from None

    def settle(self, timeout: float | None = None) -> None:
        """Wait until neither peer has a transaction waiting for its final response."""

        peers = [p for p in (self._base_peer, self._as_peer) if p is not None]

        async def settled() -> None:
            await self._peer_of_record.wait_until(lambda: all(p.idle for p in peers), timeout or 10)

        try:
            self._run(settled(), timeout)
        except TimeoutError:
            raise LabError("the peers' transactions did not complete") from None

    def _send_from_base(self, make: Callable[[], Outgoing | list[Outgoing]]) -> int:
        """Build and send in the loop's thread; returns the log length before, to wait for what follows."""

        if self._base_peer is None:
            raise Unsupported("this target does not play the base")
        peer = self._base_peer

        async def send() -> int:
            before = len(peer.observations)
            peer.send(make())
            return before

        return self._run(send())

    def _send_from_as(self, make: Callable[[float], list[Outgoing]]) -> None:
        if self._as_peer is None:
            raise Unsupported("this target does not play the AS")
        peer = self._as_peer

        async def send() -> None:
            peer.send(make(time.time()))

        self._run(send())

    # -- what every lab does -------------------------------------------------------------------------------
    def add_handset(self, label: str, handset: Handset) -> None:
        """Another handset account on the running base."""

        async def add() -> None:
            self.base.handsets[label] = handset

        self._run(add())

    def send_raw(self, datagrams: list[bytes]) -> None:
        """Datagrams that are not SIP (or barely), from a socket of their own, to the AS."""
        target = self.as_address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((self.config.host, 0))
            for data in datagrams:
                sock.sendto(data, (target.host, target.port))

    def _keep_quiet(self) -> None:
        last = max((o.time for o in self.observations if o.data.startswith(b"SUBSCRIBE")), default=None)
        if last is not None and (gap := self.config.quiet - (time.time() - last)) > 0:
            time.sleep(gap)

    def _follows(self, what: str, predicate: Callable[[], bool]) -> None:
        """Wait for what a step's request should bring about. Against our own AS everything it will send has
        been sent once the transactions settled, so nothing is waited for. With ``strict`` off, an absence is
        left for the rules to judge instead of raising."""
        if predicate():
            return
        if self.settled_is_final:
            if self.config.strict:
                raise LabError(f"{what}: did not happen")
            return
        try:
            self.wait(what, predicate, self.config.follow_timeout)
        except LabError:
            if self.config.strict:
                raise

    def mark_time(self) -> None:
        """Mark the passage of time in both records: an OPTIONS from the end we play, answered."""
        raise NotImplementedError

    def expire(self, user: str) -> None:
        raise Unsupported("expiry is played by advancing the AS emulator's clock: loopback only")

    def _set_baseline(self, states: dict[str, FeatureState]) -> None:
        """Put these states on the AS (ours directly, a real one through its portal)."""
        raise NotImplementedError


def request_matcher(
    user: str, method: str, *, body: bool | bytes | None = None, expires: bool | None = None, number: str = ""
) -> Callable[[SipMessage], bool]:
    """A predicate on a received request: its method, its sender's user, and optionally its body and Expires
    (``body``: False = none, bytes = contains them; ``expires``: True = above 0, False = 0)."""

    def match(msg: SipMessage) -> bool:
        if msg.method != method or msg.from_ is None or msg.from_.user != user:
            return False
        if body is False and msg.body.strip():
            return False
        if isinstance(body, bytes) and body not in msg.body:
            return False
        if expires is not None and (msg.expires is not None and msg.expires > 0) != expires:
            return False
        return not number or number in (msg.uri or "").replace("%2A", "*")

    return match
