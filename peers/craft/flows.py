"""Scripted feature-sync traffic: a base (client) and an AS (server) exchanging SIP text, as Observations.

Used by the sans-IO tests and by ``captures/scenarios.py`` to craft the reference captures. Each method
appends one message at the flow's clock (``at`` moves it) and returns its frame number, so a test can
assert the exact evidence a verdict names. Deviations are parameters (wrong tags, bad Subscription-State,
raw bodies ...), so one builder writes conforming and faulty flows alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.documents import NS, build_document
from analyzer.observation import Endpoint, Observation
from analyzer.sip import Headers, build_message
from analyzer.sip.multipart import Part, build_multipart
from analyzer.vocab import MEDIA_TYPE, PACKAGE

BASE = Endpoint("192.0.2.10", 5060)
AS = Endpoint("198.51.100.20", 5060)
MEDIA = MEDIA_TYPE


def dnd_event(on: bool, ns: str = NS) -> bytes:
    return build_document("DoNotDisturbEvent", device="1001", dnd=on, namespace=ns)


def fwd_event(kind: str, on: bool, to: str = "", rings: str | None = None) -> bytes:
    ring_count = None if rings is None else int(rings)
    return build_document(
        "ForwardingEvent", device="1001", forwarding_type=kind, active=on, target=to, ring_count=ring_count
    )


def set_dnd(on: bool) -> bytes:
    return build_document("SetDoNotDisturb", device="1001", dnd=on)


def set_fwd(kind: str, on: bool, to: str = "", rings: str | None = None) -> bytes:
    ring_count = None if rings is None else int(rings)
    return build_document(
        "SetForwarding", device="1001", forwarding_type=kind, active=on, target=to, ring_count=ring_count
    )


FULL_STATE = [
    dnd_event(False),
    fwd_event("forwardImmediate", False),
    fwd_event("forwardBusy", False),
    fwd_event("forwardNoAns", True, "1002", "4"),
]


def multipart(docs: list[bytes], boundary: str = "b42") -> tuple[str, bytes]:
    body = build_multipart((Part(Headers([("Content-Type", MEDIA)]), d) for d in docs), boundary)
    return f"multipart/mixed;boundary={boundary}", body


@dataclass
class Flow:
    """One subscription's traffic between the base (client) and the AS (server)."""

    user: str = "1001"
    call_id: str = "c1@192.0.2.10"
    client: Endpoint = BASE
    server: Endpoint = AS
    clock: float = 1000.0
    transport: str = "UDP"
    sub_tag: str = "bt1"
    as_tag: str = "as1"
    observations: list[Observation] = field(default_factory=list)
    _cseq: int = 0
    _ncseq: int = 0
    _branch: int = 0
    last_request: dict[str, str] = field(default_factory=dict)

    def at(self, dt: float) -> Flow:
        self.clock += dt
        return self

    def _emit(self, src: Endpoint, dst: Endpoint, data: bytes) -> int:
        index = len(self.observations) + 1
        self.observations.append(Observation(index, self.clock, src, dst, "udp", data))
        self.clock += 0.001
        return index

    def subscribe(
        self,
        *,
        expires: int | None = 3600,
        body: bytes = b"",
        ctype: str | None = None,
        in_dialog: bool | None = None,
        event: str | None = PACKAGE,
        compact_event: bool = False,
        accept: str | None = MEDIA,
        auth: bool = False,
        to_user: str | None = None,
        retransmit: bool = False,
    ) -> int:
        if not retransmit:
            self._cseq += 1
            self._branch += 1
        aor = f"sip:{self.user}@example.test"
        to_aor = f"sip:{to_user or self.user}@example.test"
        dialog = in_dialog if in_dialog is not None else self._cseq > 1 and self.as_tag_known
        headers = [
            ("Via", f"SIP/2.0/{self.transport} {self.client};branch=z9hG4bK-s{self.call_id}-{self._branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<{aor}>;tag={self.sub_tag}"),
            ("To", f"<{to_aor}>" + (f";tag={self.as_tag}" if dialog else "")),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self._cseq} SUBSCRIBE"),
        ]
        if event is not None:
            headers.append(("Event", event))
        if accept is not None:
            headers.append(("Accept", accept))
        if expires is not None:
            headers.append(("Expires", str(expires)))
        if auth:
            headers.append(("Authorization", 'Digest username="1001", realm="r", nonce="n", uri="x", response="0"'))
        if body:
            headers.append(("Content-Type", ctype or MEDIA))
        data = build_message(f"SUBSCRIBE {to_aor} SIP/2.0", headers, body)
        if compact_event and event is not None:  # build_message writes canonical names: the compact "o" by hand
            data = data.replace(f"\r\nEvent: {event}\r\n".encode(), f"\r\no: {event}\r\n".encode(), 1)
        self.last_request = {"method": "SUBSCRIBE", "data": data.decode("latin-1")}
        return self._emit(self.client, self.server, data)

    as_tag_known: bool = False

    def respond(self, status: int = 200, reason: str = "OK", *, expires: int | None = 3600, extra=()) -> int:
        """Answer the last SUBSCRIBE (from the AS) or the last NOTIFY (from the base)."""
        from analyzer.sip import parse_message

        req = parse_message(self.last_request["data"].encode("latin-1"))
        to = req.headers.get("To") or ""
        if req.method == "SUBSCRIBE" and ";tag=" not in to and status >= 200 and status not in (401, 407):
            to += f";tag={self.as_tag}"
            if 200 <= status < 300:
                self.as_tag_known = True
        headers = [(n, v) for n, v in req.headers if n in ("Via", "From", "Call-ID", "CSeq")]
        headers.insert(2, ("To", to))
        if req.method == "SUBSCRIBE" and expires is not None and 200 <= status < 300:
            headers.append(("Expires", str(expires)))
        headers += list(extra)
        data = build_message(f"SIP/2.0 {status} {reason}", headers)
        if req.method == "SUBSCRIBE":
            return self._emit(self.server, self.client, data)
        return self._emit(self.client, self.server, data)

    def notify(
        self,
        docs: list[bytes] | None = None,
        *,
        state: str = "active;expires=3600",
        event: str = PACKAGE,
        raw_body: tuple[str, bytes] | None = None,
        from_tag: str | None = None,
        to_tag: str | None = None,
        cseq: int | None = None,
        call_id: str | None = None,
        retransmit: bool = False,
    ) -> int:
        if not retransmit:
            self._ncseq += 1
            self._branch += 1
        headers = [
            ("Via", f"SIP/2.0/{self.transport} {self.server};branch=z9hG4bK-n{self.call_id}-{self._branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{self.user}@example.test>;tag={from_tag or self.as_tag}"),
            ("To", f"<sip:{self.user}@example.test>;tag={to_tag or self.sub_tag}"),
            ("Call-ID", call_id or self.call_id),
            ("CSeq", f"{cseq if cseq is not None else self._ncseq} NOTIFY"),
            ("Event", event),
            ("Subscription-State", state),
        ]
        body = b""
        if raw_body is not None:
            headers.append(("Content-Type", raw_body[0]))
            body = raw_body[1]
        elif docs:
            if len(docs) == 1:
                headers.append(("Content-Type", MEDIA))
                body = docs[0]
            else:
                ctype, body = multipart(docs)
                headers.append(("Content-Type", ctype))
        data = build_message(f"NOTIFY sip:{self.user}@{self.client} SIP/2.0", headers, body)
        self.last_request = {"method": "NOTIFY", "data": data.decode("latin-1")}
        return self._emit(self.server, self.client, data)

    def invite(self, user: str) -> int:
        self._branch += 1
        n = self._branch
        to = f"sip:{user}@example.test"
        return self._from_base("INVITE", to, f"<{to}>", f"i{self.call_id}-{n}", f"inv{n}", f"inv{n}@192.0.2.10")

    def options(self) -> int:
        """A keepalive OPTIONS from the base: traffic that shows the capture is still running."""
        self._branch += 1
        n = self._branch
        to = f"sip:{self.server}"
        return self._from_base("OPTIONS", to, f"<{to}>", f"o{self.call_id}-{n}", f"ka{n}", f"ka{n}-{self.call_id}")

    def _from_base(self, method: str, uri: str, to: str, branch: str, tag: str, call_id: str) -> int:
        """An out-of-dialog request of the base's (other traffic beside feature sync)."""
        data = build_message(
            f"{method} {uri} SIP/2.0",
            [
                ("Via", f"SIP/2.0/{self.transport} {self.client};branch=z9hG4bK-{branch}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{self.user}@example.test>;tag={tag}"),
                ("To", to),
                ("Call-ID", call_id),
                ("CSeq", f"1 {method}"),
            ],
        )
        return self._emit(self.client, self.server, data)

    def register(self, status: int = 200) -> tuple[int, int]:
        self._branch += 1
        common = [
            ("Via", f"SIP/2.0/{self.transport} {self.client};branch=z9hG4bK-r{self.user}{self.call_id}-{self._branch}"),
            ("From", f"<sip:{self.user}@example.test>;tag=reg"),
            ("To", f"<sip:{self.user}@example.test>"),
            ("Call-ID", f"reg-{self.user}"),
            ("CSeq", f"{self._branch} REGISTER"),
        ]
        req = self._emit(
            self.client,
            self.server,
            build_message("REGISTER sip:example.test SIP/2.0", [*common, ("Max-Forwards", "70")]),
        )
        resp = self._emit(self.server, self.client, build_message(f"SIP/2.0 {status} OK", common))
        return req, resp

    def establish(self, docs: list[bytes] | None = None, expires: int | None = None) -> tuple[int, int, int, int]:
        """SUBSCRIBE, 200, initial NOTIFY (full state by default), 200; ``expires`` asked, granted and notified."""
        docs = FULL_STATE if docs is None else docs
        if expires is None:
            s, ok, n = self.subscribe(), self.respond(), self.notify(docs)
        else:
            s, ok = self.subscribe(expires=expires), self.respond(expires=expires)
            n = self.notify(docs, state=f"active;expires={expires}")
        return s, ok, n, self.respond()


def one_change_two_dialogs(a: Flow, b: Flow, at: float, notify_both: bool = True) -> None:
    """Two subscriptions of one user (what FKS-HS-4 compares): both established, then at ``at`` the handset
    switches DND on in ``a``, and the AS confirms it in ``a`` and, with ``notify_both``, in ``b``."""
    a.establish()
    b.establish()
    a.clock = b.clock = at
    a.subscribe(body=set_dnd(True))
    a.respond()
    a.notify([dnd_event(True)])
    a.respond()
    b.clock = a.clock
    if notify_both:
        b.notify([dnd_event(True)])
        b.respond()


def merge(*flows: Flow) -> list[Observation]:
    """Several flows (handsets, subscriptions) as one capture: time-ordered and numbered from 1."""
    items = sorted((o for f in flows for o in f.observations), key=lambda o: (o.time, o.index))
    return [Observation(i, o.time, o.src, o.dst, o.transport, o.data) for i, o in enumerate(items, 1)]
