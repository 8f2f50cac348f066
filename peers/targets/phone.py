"""The phone side of a lab: our base emulator playing the handsets, or a person at a real base's handsets.

Each action plays the phone side itself when the lab plays the base (``PlayedBase``); against a real base
(``OperatedBase``) it tells the operator what to do on the handset and waits for the request that proves it
was done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from analyzer.observation import Endpoint
from analyzer.sip import SipError, SipMessage, parse_message
from analyzer.vocab import FEATURES
from peers.sansio.features import FORWARDING, FeatureState, describe, differences
from peers.sansio.gigaset import Handset
from peers.sansio.outgoing import Outgoing
from peers.targets.lab import Lab, LabError, Unsupported, request_matcher
from peers.targets.outcomes import OwnSide


class PlayedBase(Lab):
    """Our base emulator plays the handsets."""

    async def _start_base(self, server: Endpoint) -> None:
        self.base.server = server
        self._base_peer = self._peer(lambda data, src, now: self.base.receive(data, src, now), scapy=False)
        self.base.local = await self._base_peer.start(self.config.host, 0)

    @property
    def record_port(self) -> int:
        return self.base.local.port

    def labels(self) -> dict[Endpoint, str]:
        return {self.base.local: "base (handsets)", **super().labels()}

    def handset(self, user: str) -> Handset:
        return self.base.handsets[user]

    def register(self, user: str) -> bool:
        """REGISTER the account (answering a challenge); whether the AS accepted it."""
        self._send_from_base(lambda: self.base.register(user))
        self.settle()
        return self.handset(user).registration.registered

    def boot(self) -> None:
        """The base starts: every account REGISTERs; those with feature sync subscribe once registered."""
        labels = list(self.base.handsets)
        self._send_from_base(lambda: [self.base.register(label) for label in labels])
        self.settle()
        for label in labels:
            hs = self.base.handsets[label]
            if hs.feature_sync and hs.registration.registered:
                self.subscribe(label)

    def subscribe(self, user: str, notifies: int = 1) -> None:
        """Subscribe (or refresh) and wait for the grant and ``notifies`` NOTIFYs."""
        hs = self.handset(user)
        seen = hs.screen.notified
        hs.screen.reported = set()
        self._send_from_base(lambda: self.base.subscribe(user))
        self.settle()
        self._follows(f"the NOTIFY after subscribing {user}", lambda: hs.screen.notified >= seen + notifies)
        self._rest_of_initial_state(hs)

    def _rest_of_initial_state(self, hs: Handset) -> None:
        """An AS may send the initial state one NOTIFY per feature (FKS-NTF-2 allows it): the rest gets until
        T_notify to arrive, so that the next step does not race it and the records end with all of it. An AS
        that leaves a feature out (unassigned) is judged by FKS-NTF-2; here the wait just ends."""
        if self.settled_is_final or not hs.screen.notified:
            return
        with contextlib.suppress(LabError):
            self.wait(
                "the rest of the initial state", lambda: hs.screen.reported >= set(FEATURES), self.config.follow_timeout
            )

    def subscribe_all(self, users: list[str], timeout: float = 30.0) -> None:
        """Every handset subscribes at once (a base restarting); returns when each has its initial NOTIFY."""
        handsets = [self.handset(u) for u in users]
        seen = {hs.user: hs.screen.notified for hs in handsets}
        self._send_from_base(lambda: [self.base.subscribe(u) for u in users])
        self.wait(
            f"the initial NOTIFYs of {len(users)} handsets",
            lambda: all(hs.screen.notified > seen[hs.user] for hs in handsets),
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

    def ping(self) -> None:
        """An OPTIONS from the base, answered by the AS: marks the passage of time in both records."""
        self._send_from_base(self.base.ping)
        self.settle()

    def mark_time(self) -> None:
        """Mark the passage of time in both records: the base's OPTIONS ping."""
        self.ping()

    def send_change(self, user: str, body: bytes) -> None:
        """A change request with exactly this body (hostile or malformed documents, for bad-input scenarios)."""
        self._change(user, lambda: self.base.change(user, body))

    def _change(self, user: str, make: Callable[[], Outgoing]) -> None:
        hs = self.handset(user)
        # every subscribed handset of the same user is to be told (FKS-HS-4), not only the one that asked
        told = [
            h for h in self.base.handsets.values() if h.user == hs.user and h.dialog.remote_tag and not h.dialog.ended
        ]
        seen = {id(h): h.screen.notified for h in told}
        self._send_from_base(make)
        self.settle()
        # the confirming NOTIFY; a refused change gets none, so its absence is not an error here
        if self._final_status_of_last_subscribe(user) in range(200, 300):
            self._follows(
                f"the NOTIFY confirming {user}'s change", lambda: all(h.screen.notified > seen[id(h)] for h in told)
            )

    def dial(self, user: str, number: str, expect_notify: bool = True) -> None:
        hs = self.handset(user)
        seen, calls = hs.screen.notified, len(hs.screen.dialled)
        self._send_from_base(lambda: self.base.dial(user, number))
        self.settle()
        self._follows(f"the answer to {user} dialling {number}", lambda: len(hs.screen.dialled) > calls)
        if expect_notify:
            self._follows(f"the NOTIFY after {user} dialled {number}", lambda: hs.screen.notified > seen)

    def unsubscribe(self, user: str) -> None:
        hs = self.handset(user)
        in_dialog = bool(hs.dialog.remote_tag)
        self._send_from_base(lambda: self.base.unsubscribe(user))
        self.settle()
        self._follows(f"the grant of {user}'s unsubscribe", lambda: hs.dialog.ended)
        if hs.dialog.ended and (in_dialog or self.config.profile.fetch_notify):
            self._follows(f"the terminating NOTIFY of {user}", lambda: hs.dialog.terminated)

    def establish(self, states: dict[str, FeatureState], verify: bool = True) -> str:
        """Bring each user's features on the AS to ``states`` and, with ``verify``, read them back, then begin
        the record afresh: our AS takes the states directly, a real AS through its portal (every feature, as
        the AS may hold anything an earlier run left). The read-back is a SUBSCRIBE by a scratch handset of
        the user, whose initial NOTIFY must report the state, then its unsubscribe. Raises ``OwnSide`` when
        the AS reports another state than the one just set; says so in its return when it reports none."""
        self._set_baseline(states)
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
            return scratch.screen.reported >= every and not differences(scratch.screen.view, wanted)

        try:
            self._send_from_base(lambda: self.base.subscribe(label))
            self.settle()
            if not read():
                with contextlib.suppress(LabError):
                    self.wait(f"user {user}'s baseline in a NOTIFY", read, self.config.follow_timeout)
            wrong = [d for d in differences(scratch.screen.view, wanted) if d.split()[0] in scratch.screen.reported]
            silent = sorted(every - scratch.screen.reported)
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

    def _final_status_of_last_subscribe(self, user: str) -> int | None:
        call_id = self.handset(user).dialog.call_id
        for obs in reversed(self.observations):
            try:
                msg = parse_message(obs.data)
            except SipError:
                continue
            if msg.call_id == call_id and msg.cseq_method == "SUBSCRIBE" and msg.status and msg.status >= 200:
                return msg.status
        return None


class OperatedBase(Lab):
    """A real base: its handsets are worked by an operator (a person, or a command in tests)."""

    async def _start_base(self, server: Endpoint) -> None:
        return None  # the base under test sends to our AS of its own accord

    @property
    def record_port(self) -> int:
        return self.server.local.port

    def handset(self, user: str) -> Handset:
        raise Unsupported("the handset's own display is not observable on a real base")

    def register(self, user: str) -> bool:
        what = f"register handset {user} (power it on or re-register it)"
        self._operate(what, f"register {user}", request_matcher(user, "REGISTER"))
        return True

    def boot(self) -> None:
        raise Unsupported("this target does not play the base")

    def subscribe(self, user: str, notifies: int = 1) -> None:
        what = f"make handset {user} subscribe: enable feature key synchronization for it or restart the base"
        self._operate(what, f"subscribe {user}", request_matcher(user, "SUBSCRIBE", body=False, expires=True))

    def subscribe_all(self, users: list[str], timeout: float = 30.0) -> None:
        raise Unsupported("the handset's own display is not observable on a real base")

    def subscribe_and_settle(self, user: str) -> None:
        self.subscribe(user)

    def set_dnd(self, user: str, on: bool) -> None:
        state = "on" if on else "off"
        self._operate(
            f"on handset {user}, switch Do Not Disturb {state} in the menu",
            f"dnd {user} {state}",
            request_matcher(user, "SUBSCRIBE", body=b"SetDoNotDisturb"),
        )

    def set_forward(self, user: str, feature: str, on: bool, target: str = "", rings: int | None = None) -> None:
        what = f"on handset {user}, switch {feature} {'on to ' + target if on else 'off'}"
        what += f" after {rings} rings" if rings else ""
        action = f"forward {user} {feature} " + (f"on {target} {rings or ''}".strip() if on else "off")
        self._operate(
            what + " in the menu", action, request_matcher(user, "SUBSCRIBE", body=FORWARDING[feature].encode())
        )

    def ping(self) -> None:
        raise Unsupported("the base under test sends its own keep-alives")

    def mark_time(self) -> None:
        """Mark the passage of time in both records: our AS's OPTIONS to the base, which answers it."""
        assert self._as_peer is not None
        local = self.server.local
        phone = next((o.src for o in reversed(self._as_peer.observations) if o.dst == local), None)
        if phone is None:
            raise LabError("the base under test has sent nothing to our AS")
        self._send_from_as(lambda now: [self.server.ping(phone)])
        self.settle()

    def send_change(self, user: str, body: bytes) -> None:
        raise Unsupported("the handset's own display is not observable on a real base")

    def dial(self, user: str, number: str, expect_notify: bool = True) -> None:
        self._operate(
            f"on handset {user}, dial {number}", f"dial {user} {number}", request_matcher(user, "INVITE", number=number)
        )

    def unsubscribe(self, user: str) -> None:
        what = f"make handset {user} unsubscribe: disable feature key synchronization for it"
        self._operate(what, f"unsubscribe {user}", request_matcher(user, "SUBSCRIBE", expires=False))

    def establish(self, states: dict[str, FeatureState], verify: bool = True) -> str:
        raise Unsupported("the baseline is read back by a handset of ours")

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
