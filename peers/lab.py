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
import contextlib
import copy
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from analyzer.documents import FeatureDocument
from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipError, SipMessage, parse_message
from peers.broadworks import ApplicationServer
from peers.features import FORWARDING, FeatureState, describe, differences, state_document
from peers.gigaset import Base, Handset
from peers.impair import Impairment, UdpRelay
from peers.outcomes import OwnSide
from peers.outgoing import Outgoing
from peers.profiles import PROFILES, Profile
from peers.recorder import Recorder, can_sniff, write_from_log
from peers.transport import ScapyUdpPeer, TcpPeer, UdpPeer

T = TypeVar("T")
TRANSPORTS = ("udp", "tcp", "scapy")


class LabError(RuntimeError):
    """A step of a live exchange did not happen in time: the message says which."""


ROLES = ("both", "base", "as")


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
    # Which ends the lab plays: "both" (loopback), "base" (our base against the AS at ``remote``), "as" (our AS
    # on ``listen``, a real base pointed at it; handset-menu actions go through ``operator``).
    role: str = "both"
    remote: Endpoint | None = None
    listen: Endpoint | None = None
    operator_timeout: float = 120.0  # how long a person gets for a handset-menu action
    policy: Callable[[str, FeatureDocument], FeatureDocument | int | None] | None = None  # the AS's last word
    strict: bool = True  # a missing NOTIFY (or grant) raises LabError; off: the rules judge the absence
    follow_timeout: float = 5.0  # how long a real peer gets to send what a step brings about (T_notify)


class Unsupported(LabError):
    """The target cannot perform this step (a real AS's profile cannot be switched, ...): skip, with why."""


class Lab:
    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        if self.config.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.config.transport!r} (one of {', '.join(TRANSPORTS)})")
        if self.config.impairment is not None and self.config.transport == "tcp":
            raise ValueError("the impairment relay carries UDP only")
        if self.config.role not in ROLES:
            raise ValueError(f"unknown role {self.config.role!r} (one of {', '.join(ROLES)})")
        if self.config.role == "base" and self.config.remote is None:
            raise ValueError("playing the base needs the address of the AS under test")
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
            transport="TCP" if self.config.transport == "tcp" else "UDP",
        )
        if self.config.policy is not None:
            self.server.policy = self.config.policy
        handsets = {h.label or h.user: h for h in self.config.handsets}
        self.base = Base(
            Endpoint(self.config.host, 0),
            Endpoint(self.config.host, 0),
            handsets,
            expires=self.config.expires,
            transport="TCP" if self.config.transport == "tcp" else "UDP",
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
    def plays_as(self) -> bool:
        return self.config.role in ("both", "as")

    @property
    def plays_base(self) -> bool:
        return self.config.role in ("both", "base")

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
        target = cfg.remote
        if self.plays_as:
            listen = cfg.listen or Endpoint(cfg.host, 0)
            self._as_peer = self._peer(self.server.receive, scapy=cfg.transport == "scapy")
            self.server.local = target = await self._as_peer.start(listen.host, listen.port)
        if cfg.impairment is not None and target is not None:
            self.relay = UdpRelay(target, cfg.impairment)
            target = await self.relay.start(cfg.host, 0)  # only the base's hop is recorded (see below)
        if self.plays_base:
            assert target is not None
            self.base.server = target
            self._base_peer = self._peer(lambda data, src, now: self.base.receive(data, src, now), scapy=False)
            self.base.local = await self._base_peer.start(cfg.host, 0)
        if self._as_peer is not None and self._base_peer is not None:
            self._as_peer._changed = self._base_peer._changed  # one condition: waits wake on either peer's traffic
        if self.sniffing:
            # One port selects the exchange. Over UDP, playing the base, the base's: datagrams that others
            # send to the AS (garbage, a flood) are then in neither record. Over TCP the base connects from
            # an ephemeral port, so the AS's port, where every connection of the exchange ends.
            if cfg.transport == "tcp":
                ports = [self.server.local.port if self.plays_as else (cfg.remote or self.base.server).port]
            else:
                ports = [self.base.local.port if self.plays_base else self.server.local.port]
            self.recorder = Recorder(ports, tcp=cfg.transport == "tcp")
            await asyncio.to_thread(self.recorder.start)
        # The record starts now: what a real peer sent before the capture ran (a base retransmitting its boot
        # SUBSCRIBE to an AS that was not up yet) is in neither record, so both records stay alike.
        self._first = len(self._peer_of_record.observations)

    def _peer(self, handler: Callable[[bytes, Endpoint, float], list[Outgoing]], scapy: bool) -> UdpPeer | TcpPeer:
        t1 = self.config.t1
        if self.config.transport == "tcp":
            return TcpPeer(handler, t1=t1)
        return ScapyUdpPeer(handler, t1=t1) if scapy else UdpPeer(handler, t1=t1)

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

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=(timeout or self.config.timeout) + 5)

    # -- records -------------------------------------------------------------------------------------------
    @property
    def decode_as(self) -> tuple[str, ...]:
        """What an audit of this lab's capture tells tshark: over TCP, SIP on every port. The record holds only
        this exchange, whose ephemeral ports may be ones tshark gives to another protocol (44818: EtherNet/IP),
        and a stream is framed by the port's dissector; over UDP the analyzer's SIP heuristic finds them."""
        return ("tcp.port==1-65535,sip",) if self.config.transport == "tcp" else ()

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
        heads = tuple(o.data[:48] for o in log[-3:])
        if not self.recorder.wait_for(len(log), 5.0, payload=True, since=self._since, heads=heads):
            raise LabError("the capture holds fewer packets than the peers exchanged")
        return self.recorder.write(path, until=ended, since=self._since)

    def restart_record(self) -> None:
        """The record begins now: what was exchanged so far (setting up a baseline) is in neither record."""
        self._first = len(self._peer_of_record.observations)
        self._since = time.time()

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

    # -- actions -------------------------------------------------------------------------------------------
    # Each action plays the phone side itself when the lab plays the base; against a real base (role "as")
    # it tells the operator what to do on the handset and waits for the request that proves it was done.

    def handset(self, user: str) -> Handset:
        if not self.plays_base:
            raise Unsupported("the handset's own display is not observable on a real base")
        return self.base.handsets[user]

    def register(self, user: str) -> bool:
        """REGISTER the account (answering a challenge); whether the AS accepted it."""
        if not self.plays_base:
            what = f"register handset {user} (power it on or re-register it)"
            self._operate(what, f"register {user}", request_matcher(user, "REGISTER"))
            return True
        self._send_from_base(lambda: self.base.register(user))
        self.settle()
        return self.handset(user).registered

    def boot(self) -> None:
        """The base starts: every account REGISTERs; those with feature sync subscribe once registered."""
        labels = list(self.base.handsets)
        self._send_from_base(lambda: [self.base.register(label) for label in labels])
        self.settle()
        for label in labels:
            hs = self.base.handsets[label]
            if hs.feature_sync and hs.registered:
                self.subscribe(label)

    def subscribe(self, user: str, notifies: int = 1) -> None:
        """Subscribe (or refresh) and wait for the grant and ``notifies`` NOTIFYs."""
        if not self.plays_base:
            what = f"make handset {user} subscribe: enable feature key synchronization for it or restart the base"
            self._operate(what, f"subscribe {user}", request_matcher(user, "SUBSCRIBE", body=False, expires=True))
            return
        hs = self.handset(user)
        seen = hs.notified
        self._send_from_base(lambda: self.base.subscribe(user))
        self.settle()
        self._follows(f"the NOTIFY after subscribing {user}", lambda: hs.notified >= seen + notifies)

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
        if not self.plays_base:
            return self.subscribe(user)
        self._send_from_base(lambda: self.base.subscribe(user))
        self.settle()
        return None

    def set_dnd(self, user: str, on: bool) -> None:
        if not self.plays_base:
            state = "on" if on else "off"
            self._operate(
                f"on handset {user}, switch Do Not Disturb {state} in the menu",
                f"dnd {user} {state}",
                request_matcher(user, "SUBSCRIBE", body=b"SetDoNotDisturb"),
            )
            return
        self._change(user, lambda: self.base.set_dnd(user, on))

    def set_forward(self, user: str, feature: str, on: bool, target: str = "", rings: int | None = None) -> None:
        if not self.plays_base:
            what = f"on handset {user}, switch {feature} {'on to ' + target if on else 'off'}"
            what += f" after {rings} rings" if rings else ""
            action = f"forward {user} {feature} " + (f"on {target} {rings or ''}".strip() if on else "off")
            self._operate(
                what + " in the menu", action, request_matcher(user, "SUBSCRIBE", body=FORWARDING[feature].encode())
            )
            return
        self._change(user, lambda: self.base.set_forward(user, feature, on, target, rings))

    def ping(self) -> None:
        """An OPTIONS from the base, answered by the AS: marks the passage of time in both records."""
        if not self.plays_base:
            raise Unsupported("the base under test sends its own keep-alives")
        self._send_from_base(self.base.ping)
        self.settle()

    def add_handset(self, label: str, handset: Handset) -> None:
        """Another handset account on the running base."""

        async def add() -> None:
            self.base.handsets[label] = handset

        self._run(add())

    def set_policy(self, policy: Callable[[str, FeatureDocument], FeatureDocument | int | None]) -> None:
        if not self.plays_as:
            raise Unsupported("the policy of a real AS is its own")

        async def put() -> None:
            self.server.policy = policy

        self._run(put())

    def preset(self, user: str, state: FeatureState) -> None:
        """Replace a user's state on our AS without telling anyone (what an administrator's import does)."""
        if not self.plays_as:
            raise Unsupported("the state of a real AS is set through its portal")

        async def put() -> None:
            self.server.states[user] = state

        self._run(put())

    def preset_all(self, states: dict[str, FeatureState]) -> None:
        """Our AS holds exactly these users' states (copies), told to nobody."""
        if self.plays_as:
            for user, state in states.items():
                self.preset(user, copy.deepcopy(state))

    def establish(self, states: dict[str, FeatureState], verify: bool = True) -> str:
        """Bring each user's features on the AS to ``states`` and, with ``verify``, read them back, then begin
        the record afresh: our AS takes the states directly, a real AS through its portal (every feature, as
        the AS may hold anything an earlier run left). The read-back is a SUBSCRIBE by a scratch handset of
        the user, whose initial NOTIFY must report the state, then its unsubscribe. Raises ``OwnSide`` when
        the AS reports another state than the one just set; says so in its return when it reports none."""
        if self.plays_as:
            self.preset_all(states)
        else:
            if self.portal is None:
                raise Unsupported("no portal for the AS under test (give --fks-portal-cmd or --fks-portal-url)")
            for user, state in states.items():
                for feature in ("DND", *FORWARDING):
                    self.portal(user, state_document(feature, state, user))
        notes = [self._read_back(user, state) for user, state in states.items()] if verify else ["not read back"]
        self.restart_record()
        return "; ".join(notes)

    def _read_back(self, user: str, wanted: FeatureState) -> str:
        template = next(h for h in self.base.handsets.values() if h.user == user)
        label = f"{user}#baseline"
        scratch = Handset(template.user, template.domain, template.password, auth_name=template.auth_name, label=label)
        self.add_handset(label, scratch)
        every = {"DND", *FORWARDING}

        def read() -> bool:
            return scratch.reported >= every and not differences(scratch.view, wanted)

        try:
            self._send_from_base(lambda: self.base.subscribe(label))
            self.settle()
            if not read():
                with contextlib.suppress(LabError):
                    self.wait(f"user {user}'s baseline in a NOTIFY", read, self.config.follow_timeout)
            wrong = [d for d in differences(scratch.view, wanted) if d.split()[0] in scratch.reported]
            silent = sorted(every - scratch.reported)
            with contextlib.suppress(LabError):
                self.unsubscribe(label)
        finally:

            async def drop() -> None:
                self.base.handsets.pop(label, None)

            self._run(drop())
        if wrong:
            raise OwnSide(
                f"the AS does not report the baseline just set for user {user}: it reports {', '.join(wrong)} "
                f"(set: {describe(wanted)})"
            )
        if silent:
            return f"user {user}: {describe(wanted)}; the AS's NOTIFY did not report {', '.join(silent)}"
        return f"user {user}: {describe(wanted)}, reported back by the AS"

    def send_raw(self, datagrams: list[bytes]) -> None:
        """Datagrams that are not SIP (or barely), from a socket of their own, to the AS."""
        target = self.server.local if self.plays_as else self.base.server
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((self.config.host, 0))
            for data in datagrams:
                sock.sendto(data, (target.host, target.port))

    def send_change(self, user: str, body: bytes) -> None:
        """A change request with exactly this body (hostile or malformed documents, for bad-input scenarios)."""
        self._change(user, lambda: self.base.change(user, body))

    def _change(self, user: str, make: Callable[[], Outgoing]) -> None:
        hs = self.handset(user)
        # every subscribed handset of the same user is to be told (FKS-HS-4), not only the one that asked
        told = [h for h in self.base.handsets.values() if h.user == hs.user and h.remote_tag and not h.ended]
        seen = {id(h): h.notified for h in told}
        self._send_from_base(make)
        self.settle()
        # the confirming NOTIFY; a refused change gets none, so its absence is not an error here
        if self._final_status_of_last_subscribe(user) in range(200, 300):
            self._follows(f"the NOTIFY confirming {user}'s change", lambda: all(h.notified > seen[id(h)] for h in told))

    def portal_change(self, user: str, doc: bytes) -> None:
        """A change on the web portal: the AS notifies every subscription of ``user``."""
        self._keep_quiet()
        if not self.plays_as:
            if self.portal is None:
                raise Unsupported("no portal for the AS under test (give --fks-portal-cmd or --fks-portal-url)")
            hs = self.handset(user)
            seen = hs.notified
            self.portal(user, doc)
            self._follows(f"the NOTIFY of {user}'s portal change", lambda: hs.notified > seen)
        else:
            self._send_from_as(lambda now: self.server.portal_change(user, doc, now))
        self.settle()

    def _keep_quiet(self) -> None:
        last = max((o.time for o in self.observations if o.data.startswith(b"SUBSCRIBE")), default=None)
        if last is not None and (gap := self.config.quiet - (time.time() - last)) > 0:
            time.sleep(gap)

    def dial(self, user: str, number: str, expect_notify: bool = True) -> None:
        if not self.plays_base:
            self._operate(
                f"on handset {user}, dial {number}",
                f"dial {user} {number}",
                request_matcher(user, "INVITE", number=number),
            )
            return
        hs = self.handset(user)
        seen, calls = hs.notified, len(hs.dialled)
        self._send_from_base(lambda: self.base.dial(user, number))
        self.settle()
        self._follows(f"the answer to {user} dialling {number}", lambda: len(hs.dialled) > calls)
        if expect_notify:
            self._follows(f"the NOTIFY after {user} dialled {number}", lambda: hs.notified > seen)

    def unsubscribe(self, user: str) -> None:
        if not self.plays_base:
            what = f"make handset {user} unsubscribe: disable feature key synchronization for it"
            self._operate(what, f"unsubscribe {user}", request_matcher(user, "SUBSCRIBE", expires=False))
            return
        hs = self.handset(user)
        in_dialog = bool(hs.remote_tag)
        self._send_from_base(lambda: self.base.unsubscribe(user))
        self.settle()
        self._follows(f"the grant of {user}'s unsubscribe", lambda: hs.ended)
        if hs.ended and (in_dialog or self.config.profile.fetch_notify):
            self._follows(f"the terminating NOTIFY of {user}", lambda: hs.terminated)

    def expire(self, user: str) -> None:
        """Let the AS's expiry timer run out (the base's refresh is not sent): the AS ends the subscription."""
        if not (self.plays_as and self.plays_base):
            raise Unsupported("expiry is played by advancing the AS emulator's clock: loopback only")
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

    def _follows(self, what: str, predicate: Callable[[], bool]) -> None:
        """Wait for what a step's request should bring about. Against our own AS everything it will send has
        been sent once the transactions settled, so nothing is waited for. With ``strict`` off, an absence is
        left for the rules to judge instead of raising."""
        if predicate():
            return
        if self.plays_as and self.plays_base:
            if self.config.strict:
                raise LabError(f"{what}: did not happen")
            return
        try:
            self.wait(what, predicate, self.config.follow_timeout)
        except LabError:
            if self.config.strict:
                raise

    def _operate(self, instruction: str, action: str, done: Callable[[SipMessage], bool]) -> None:
        """Ask the operator for a handset action, then wait until our AS has given a final answer (other than
        a challenge) to a request that shows it happened: a challenged request is retried by the base with
        credentials, and what the answer brings about (a NOTIFY) belongs to the same step."""
        assert self._as_peer is not None
        peer, before = self._as_peer, len(self._as_peer.observations)
        local = self.server.local

        def happened() -> bool:
            shown: set[tuple[str | None, str | None]] = set()
            for obs in peer.observations[before:]:
                try:
                    msg = parse_message(obs.data)
                except SipError:
                    continue
                key = (msg.call_id, msg.headers.get("CSeq"))
                if obs.dst == local and msg.is_request and done(msg):
                    shown.add(key)
                elif obs.src == local and key in shown and (msg.status or 0) >= 200 and msg.status not in (401, 407):
                    return True
            return False

        self.operator(instruction, action)
        self.wait(f"waiting for the base after asking: {instruction}", happened, self.config.operator_timeout)
        self.settle()

    def _final_status_of_last_subscribe(self, user: str) -> int | None:
        call_id = self.handset(user).call_id
        for obs in reversed(self.observations):
            try:
                msg = parse_message(obs.data)
            except SipError:
                continue
            if msg.call_id == call_id and msg.cseq_method == "SUBSCRIBE" and msg.status and msg.status >= 200:
                return msg.status
        return None


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
