"""Both emulators on loopback, wired together and recorded: the ``loopback`` target of a conformance run.

``Lab`` starts the AS emulator and the base emulator on real sockets (UDP, TCP, or the scapy UDP transport),
optionally through the impairment relay, and records the wire with scapy when this process may sniff. Its
event loop runs in a thread of its own and every action is a blocking call that returns once the traffic it
causes has settled (each waits for the messages it needs, bounded by a timeout), so synchronous callers such
as pytest-bdd steps drive a live exchange without sleeping.

Two records come out of a run: ``observations`` (the base's message log) and ``capture()`` (a pcapng from the
wire, or, without capture privileges, from the log and marked so). DESIGN.md asks that both be judged alike.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from analyzer.observation import Endpoint, Observation
from peers.broadworks import ApplicationServer
from peers.features import FeatureState
from peers.gigaset import Base, Handset
from peers.impair import Impairment, UdpRelay
from peers.outgoing import Outgoing
from peers.profiles import PROFILES, Profile
from peers.recorder import Recorder, can_sniff, write_from_log
from peers.transport import ScapyUdpPeer, TcpPeer, UdpPeer

T = TypeVar("T")
TRANSPORTS = ("udp", "tcp", "scapy")


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
    record: bool = True
    t1: float = 0.5
    timeout: float = 10.0
    # Scenario timing, not synchronisation: the gap kept between the last SUBSCRIBE and a change made on the
    # portal, so that the change is recognisably unsolicited (FKS-AS-1 looks back T_notify for a SUBSCRIBE).
    quiet: float = 0.0
    host: str = "127.0.0.1"


class Lab:
    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        if self.config.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.config.transport!r} (one of {', '.join(TRANSPORTS)})")
        if self.config.impairment is not None and self.config.transport == "tcp":
            raise ValueError("the impairment relay carries UDP only")
        self.server = ApplicationServer(
            Endpoint(self.config.host, 0),
            passwords=dict(self.config.passwords),
            max_expires=self.config.max_expires,
            states=dict(self.config.states),
            profile=self.config.profile,
            algorithms=self.config.algorithms,
            transport="TCP" if self.config.transport == "tcp" else "UDP",
        )
        handsets = {h.user: h for h in self.config.handsets}
        self.base = Base(
            Endpoint(self.config.host, 0),
            Endpoint(self.config.host, 0),
            handsets,
            expires=self.config.expires,
            transport="TCP" if self.config.transport == "tcp" else "UDP",
        )
        self.recorder: Recorder | None = None
        self.relay: UdpRelay | None = None
        self.sniffing = self.config.record and can_sniff()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fks-lab", daemon=True)
        self._as_peer: UdpPeer | TcpPeer
        self._base_peer: UdpPeer | TcpPeer

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
        self._as_peer = self._peer(self.server.receive, scapy=cfg.transport == "scapy")
        self.server.local = await self._as_peer.start(cfg.host, 0)
        target = self.server.local
        if cfg.impairment is not None:
            self.relay = UdpRelay(self.server.local, cfg.impairment)
            target = await self.relay.start(cfg.host, 0)
        self.base.server = target
        self._base_peer = self._peer(lambda data, src, now: self.base.receive(data, src, now), scapy=False)
        self.base.local = await self._base_peer.start(cfg.host, 0)
        self._as_peer._changed = self._base_peer._changed  # one condition: a wait wakes on either peer's traffic
        if self.sniffing:
            # with a relay, only the base's hop is recorded: the AS's hop would show every message twice
            ports = [self.base.local.port] if self.relay else [self.base.local.port, self.server.local.port]
            self.recorder = Recorder(ports, tcp=cfg.transport == "tcp")
            await asyncio.to_thread(self.recorder.start)

    def _peer(self, handler: Callable[[bytes, Endpoint, float], list[Outgoing]], scapy: bool) -> UdpPeer | TcpPeer:
        t1 = self.config.t1
        if self.config.transport == "tcp":
            return TcpPeer(handler, t1=t1)
        return ScapyUdpPeer(handler, t1=t1) if scapy else UdpPeer(handler, t1=t1)

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            self._base_peer.close()
            self._as_peer.close()
            if self.relay is not None:
                self.relay.close()
            await asyncio.sleep(0)  # let closing transports run their callbacks

        try:
            self._run(stop())
        finally:
            if self.recorder is not None:
                self.recorder.stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=(timeout or self.config.timeout) + 5)

    # -- records -------------------------------------------------------------------------------------------
    @property
    def observations(self) -> list[Observation]:
        """The base's message log (the phone side of the exchange)."""
        return list(self._base_peer.observations)

    @property
    def as_observations(self) -> list[Observation]:
        return list(self._as_peer.observations)

    def capture(self, path: str | Path) -> Path:
        """The wire capture as pcapng; from the message log (marked so) when this process cannot sniff."""
        if self.recorder is None:
            return write_from_log(path, self.observations)
        # at least one packet with data per message (more for fragments or a message over several segments)
        if not self.recorder.wait_for(len(self.observations), 5.0, payload=True):
            raise LabError("the capture holds fewer packets than the peers exchanged")
        return self.recorder.write(path)

    # -- waiting -------------------------------------------------------------------------------------------
    def wait(self, what: str, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Block until ``predicate`` holds (re-checked on every message of the base); LabError names ``what``."""

        async def waiting() -> None:
            await self._base_peer.wait_until(predicate, timeout or self.config.timeout)

        try:
            self._run(waiting(), timeout)
        except TimeoutError:
            raise LabError(f"{what}: not within {timeout or self.config.timeout:g} s") from None

    def settle(self, timeout: float | None = None) -> None:
        """Wait until neither peer has a transaction waiting for its final response."""

        async def settled() -> None:
            await self._base_peer.wait_until(lambda: self._base_peer.idle and self._as_peer.idle, timeout or 10)

        try:
            self._run(settled(), timeout)
        except TimeoutError:
            raise LabError("the peers' transactions did not complete") from None

    def _send_from_base(self, make: Callable[[], Outgoing | list[Outgoing]]) -> int:
        """Build and send in the loop's thread; returns the log length before, to wait for what follows."""

        async def send() -> int:
            before = len(self._base_peer.observations)
            self._base_peer.send(make())
            return before

        return self._run(send())

    def _send_from_as(self, make: Callable[[float], list[Outgoing]]) -> None:
        async def send() -> None:
            self._as_peer.send(make(time.time()))

        self._run(send())

    # -- actions -------------------------------------------------------------------------------------------
    def handset(self, user: str) -> Handset:
        return self.base.handsets[user]

    def register(self, user: str) -> bool:
        """REGISTER the account (answering a challenge); whether the AS accepted it."""
        self._send_from_base(lambda: self.base.register(user))
        self.settle()
        return self.handset(user).registered

    def subscribe(self, user: str, notifies: int = 1) -> None:
        """Subscribe (or refresh) and wait for the grant and ``notifies`` NOTIFYs, or for the exchange to end."""
        hs = self.handset(user)
        seen = hs.notified
        self._send_from_base(lambda: self.base.subscribe(user))
        self.wait(f"the NOTIFY after subscribing {user}", lambda: hs.notified >= seen + notifies)
        self.settle()

    def subscribe_all(self, users: list[str], timeout: float = 30.0) -> None:
        """Every handset subscribes at once (a base restarting); returns when each has its initial NOTIFY."""
        handsets = [self.handset(u) for u in users]
        seen = {hs.user: hs.notified for hs in handsets}
        self._send_from_base(lambda: [self.base.subscribe(u) for u in users])
        self.wait(
            f"the initial NOTIFYs of {len(users)} handsets",
            lambda: all(hs.notified > seen[hs.user] for hs in handsets),
            timeout,
        )
        self.settle(timeout)

    def subscribe_and_settle(self, user: str) -> None:
        """Subscribe without expecting a NOTIFY (a deviating AS may send none): wait for the transactions."""
        self._send_from_base(lambda: self.base.subscribe(user))
        self.settle()

    def set_dnd(self, user: str, on: bool) -> None:
        self._change(user, lambda: self.base.set_dnd(user, on))

    def set_forward(self, user: str, feature: str, on: bool, target: str = "", rings: int | None = None) -> None:
        self._change(user, lambda: self.base.set_forward(user, feature, on, target, rings))

    def _change(self, user: str, make: Callable[[], Outgoing]) -> None:
        hs = self.handset(user)
        seen = hs.notified
        self._send_from_base(make)
        self.settle()
        # the confirming NOTIFY; a refused change gets none, so its absence is not an error here
        if self._final_status_of_last_subscribe(user) in range(200, 300):
            self.wait(f"the NOTIFY confirming {user}'s change", lambda: hs.notified > seen)

    def portal_change(self, user: str, doc: bytes) -> None:
        """A change on the web portal: the AS notifies every subscription of ``user``."""
        hs = self.handset(user)
        seen = hs.notified
        self._keep_quiet()
        self._send_from_as(lambda now: self.server.portal_change(user, doc, now))
        self.wait(f"the NOTIFY of {user}'s portal change", lambda: hs.notified > seen)
        self.settle()

    def _keep_quiet(self) -> None:
        last = max((o.time for o in self.observations if o.data.startswith(b"SUBSCRIBE")), default=None)
        if last is not None and (gap := self.config.quiet - (time.time() - last)) > 0:
            time.sleep(gap)

    def dial(self, user: str, number: str, expect_notify: bool = True) -> None:
        hs = self.handset(user)
        seen, calls = hs.notified, len(hs.dialled)
        self._send_from_base(lambda: self.base.dial(user, number))
        self.wait(f"the answer to {user} dialling {number}", lambda: len(hs.dialled) > calls)
        if expect_notify:
            self.wait(f"the NOTIFY after {user} dialled {number}", lambda: hs.notified > seen)
        self.settle()

    def unsubscribe(self, user: str) -> None:
        hs = self.handset(user)
        self._send_from_base(lambda: self.base.unsubscribe(user))
        self.wait(f"the grant of {user}'s unsubscribe", lambda: hs.ended)
        if self.config.profile.fetch_notify or hs.remote_tag:
            self.wait(f"the terminating NOTIFY of {user}", lambda: hs.terminated)
        self.settle()

    def expire(self, user: str) -> None:
        """Let the AS's expiry timer run out (the base's refresh is not sent): the AS ends the subscription."""
        hs = self.handset(user)
        hs.refresh_at = None

        def lapse(now: float) -> list[Outgoing]:
            for sub in self.server.subscriptions.values():
                if sub.user == user:
                    sub.expires_at = now  # the AS's clock for this user jumps to the expiry
            return self.server.due(now)

        self._send_from_as(lapse)
        self.wait(f"the NOTIFY ending {user}'s expired subscription", lambda: hs.terminated)
        self.settle()

    def _final_status_of_last_subscribe(self, user: str) -> int | None:
        from analyzer.sip import SipError, parse_message

        call_id = self.handset(user).call_id
        for obs in reversed(self.observations):
            try:
                msg = parse_message(obs.data)
            except SipError:
                continue
            if msg.call_id == call_id and msg.cseq_method == "SUBSCRIBE" and msg.status and msg.status >= 200:
                return msg.status
        return None
