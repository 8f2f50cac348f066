"""``fks synth``: large, realistic captures for benchmarks and for users' pipelines, deterministic from a seed.

N handset accounts with feature sync on M bases (up to 250 per base, the N870's maximum), each account going
through the whole life of a subscription: REGISTER with a digest challenge, SUBSCRIBE challenged then
granted, the initial multipart NOTIFY, sometimes a handset change and its confirmation, sometimes a portal
change, a refresh with the full state again, and the unsubscribe with its terminated NOTIFY. Around them the
rest of a site's SIP: calls (INVITE ... BYE) with RTP, OPTIONS keep-alives, other event packages
(presence, message-summary). A share of the bases talk TCP (one connection per base, handshake included),
the others UDP.

The ``dense`` shape is the other extreme, where every message counts: each account only subscribes over UDP
(SUBSCRIBE, 200, the multipart NOTIFY of its full state, 200), no noise, no RTP; what an AS sees in a
subscription storm, and the audit's worst case per byte.

Packets are written straight to a pcap (Ethernet/IPv4/UDP or TCP built with ``struct``; scapy would take
minutes for a million packets), flows are generated lazily and merged by time, so memory stays small
whatever the size.
"""

from __future__ import annotations

import heapq
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.vocab import MEDIA_TYPE, NS, PACKAGE
from peers.craft.pcapfile import PcapWriter

AS_ADDRESS = ("198.51.100.20", 5060)
MEDIA = MEDIA_TYPE
SHAPES = {"site": 18, "dense": 4}  # feature-sync messages per account in each shape
Packet = tuple[float, int, tuple[str, int], tuple[str, int], str, bytes]  # time, order, src, dst, proto, payload


@dataclass(frozen=True)
class SynthOptions:
    subscriptions: int = 1000
    bases: int | None = None  # default: as few as hold the accounts, 250 per base
    noise: float = 3.0  # other SIP messages per feature-sync message
    rtp: int = 20  # RTP packets per call
    tcp_share: float = 0.2  # share of bases on TCP
    seed: int = 1
    duration: float = 3600.0  # seconds the accounts' start times are spread over
    shape: str = "site"  # "site": a site's whole life and traffic; "dense": feature sync only (SHAPES)


@dataclass
class Stats:
    packets: int = 0
    sip_messages: int = 0
    feature_sync_messages: int = 0
    subscriptions: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _doc(root: str, children: str) -> str:
    return f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<{root} xmlns="{NS}">{children}</{root}>'


def _state_docs(user: str, rng: random.Random) -> list[str]:
    dnd = rng.random() < 0.2
    docs = [_doc("DoNotDisturbEvent", f"<device>{user}</device><doNotDisturbOn>{str(dnd).lower()}</doNotDisturbOn>")]
    for ftype in ("forwardImmediate", "forwardBusy", "forwardNoAns"):
        on = rng.random() < 0.15
        target = f"{rng.randint(1000, 9999)}" if on else ""
        rings = "<ringCount>4</ringCount>" if ftype == "forwardNoAns" else ""
        docs.append(
            _doc(
                "ForwardingEvent",
                f"<device>{user}</device><forwardingType>{ftype}</forwardingType>"
                f"<forwardStatus>{str(on).lower()}</forwardStatus><forwardTo>{target}"
                f"</forwardTo>{rings}",
            )
        )
    return docs


def _message(start: str, headers: list[tuple[str, str]], body: str = "") -> bytes:
    data = body.encode("latin-1")
    lines = [start, *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(data)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + data


@dataclass
class _Account:
    user: str
    base: tuple[str, int]
    proto: str
    rng: random.Random


class _Flows:
    """Message builders for one site: every flow is a generator of (time, src, dst, proto, bytes)."""

    def __init__(self, opts: SynthOptions) -> None:
        self.opts = opts
        self.seq = 0

    def _branch(self) -> str:
        self.seq += 1
        return f"z9hG4bK-s{self.seq}"

    def _request(
        self,
        acc: _Account,
        method: str,
        uri: str,
        call_id: str,
        cseq: int,
        tags: tuple[str, str | None],
        extra: list[tuple[str, str]],
        body: str = "",
        src: tuple[str, int] | None = None,
    ) -> bytes:
        host, port = src or acc.base
        via = f"SIP/2.0/{acc.proto.upper()} {host}:{port};branch={self._branch()}"
        to = f"<sip:{acc.user}@example.test>" + (f";tag={tags[1]}" if tags[1] else "")
        headers = [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{acc.user}@example.test>;tag={tags[0]}"),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            *extra,
        ]
        return _message(f"{method} {uri} SIP/2.0", headers, body)

    @staticmethod
    def _response(request: bytes, status: str, to_tag: str, extra: list[tuple[str, str]] = ()) -> bytes:
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
        keep = [tuple(h.split(": ", 1)) for h in head if h.split(":", 1)[0] in ("Via", "From", "Call-ID", "CSeq", "To")]
        out = []
        for name, value in keep:
            if name == "To" and ";tag=" not in value:
                value += f";tag={to_tag}"
            out.append((name, value))
        return _message(f"SIP/2.0 {status}", [*out, ("Server", "BroadWorks"), *extra])

    def subscription(
        self, acc: _Account, t: float
    ) -> Iterator[tuple[float, tuple[str, int], tuple[str, int], str, bytes, str]]:
        """One account's whole life: the feature-sync exchanges of docs/protocol.md."""
        rng, user, base, p = acc.rng, acc.user, acc.base, acc.proto
        nonce = f"{rng.getrandbits(64):016x}"
        auth = (
            f'Digest username="{user}", realm="example.test", nonce="{nonce}", uri="sip:{user}@example.test", '
            f'response="{rng.getrandbits(128):032x}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c{user}"'
        )
        challenge = [("WWW-Authenticate", f'Digest realm="example.test", nonce="{nonce}", qop="auth", algorithm=MD5')]
        contact = [("Contact", f"<sip:{user}@{base[0]}:{base[1]}>"), ("User-Agent", "Gigaset N870 IP PRO/83.V2.42.0")]
        reg_id, tag = f"reg-{user}-{nonce[:8]}@{base[0]}", f"r{nonce[:6]}"
        r1 = self._request(acc, "REGISTER", "sip:example.test", reg_id, 1, (tag, None), [*contact, ("Expires", "3600")])
        yield t, base, AS_ADDRESS, p, r1, "other"
        yield t + 0.004, AS_ADDRESS, base, p, self._response(r1, "401 Unauthorized", "as1", challenge), "other"
        r2 = self._request(
            acc,
            "REGISTER",
            "sip:example.test",
            reg_id,
            2,
            (tag, None),
            [*contact, ("Expires", "3600"), ("Authorization", auth)],
        )
        yield t + 0.010, base, AS_ADDRESS, p, r2, "other"
        yield t + 0.015, AS_ADDRESS, base, p, self._response(r2, "200 OK", "as2", [("Expires", "3600")]), "other"
        call_id, htag, ttag = f"fks-{user}-{nonce[8:]}@{base[0]}", f"h{nonce[:8]}", f"b{nonce[8:14]}"
        sub_headers = [*contact, ("Event", PACKAGE), ("Accept", MEDIA), ("Expires", "3600")]
        t += 0.2 + rng.random()
        s1 = self._request(acc, "SUBSCRIBE", f"sip:{user}@example.test", call_id, 1, (htag, None), sub_headers)
        yield t, base, AS_ADDRESS, p, s1, "fks"
        yield t + 0.004, AS_ADDRESS, base, p, self._response(s1, "401 Unauthorized", ttag, challenge), "fks"
        s2 = self._request(
            acc,
            "SUBSCRIBE",
            f"sip:{user}@example.test",
            call_id,
            2,
            (htag, None),
            [*sub_headers, ("Authorization", auth.replace("nc=00000001", "nc=00000002"))],
        )
        yield t + 0.010, base, AS_ADDRESS, p, s2, "fks"
        yield t + 0.015, AS_ADDRESS, base, p, self._response(s2, "200 OK", ttag, [("Expires", "3600")]), "fks"
        cseq = 1
        yield from self._notify(
            acc, t + 0.020, call_id, (ttag, htag), cseq, _state_docs(user, rng), "active;expires=3600"
        )
        if rng.random() < 0.3:  # a handset change
            t += 30 + rng.random() * 600
            on = rng.random() < 0.5
            body = _doc("SetDoNotDisturb", f"<device>{user}</device><doNotDisturbOn>{str(on).lower()}</doNotDisturbOn>")
            c = self._request(
                acc,
                "SUBSCRIBE",
                f"sip:{user}@example.test",
                call_id,
                3,
                (htag, ttag),
                [*sub_headers, ("Content-Type", MEDIA)],
                body,
            )
            yield t, base, AS_ADDRESS, p, c, "fks"
            yield t + 0.005, AS_ADDRESS, base, p, self._response(c, "200 OK", ttag, [("Expires", "3600")]), "fks"
            cseq += 1
            dnd = _doc(
                "DoNotDisturbEvent", f"<device>{user}</device><doNotDisturbOn>{str(on).lower()}</doNotDisturbOn>"
            )
            yield from self._notify(acc, t + 0.010, call_id, (ttag, htag), cseq, [dnd], "active;expires=3500")
        if rng.random() < 0.2:  # a portal change
            t += 60 + rng.random() * 600
            cseq += 1
            fwd = _doc(
                "ForwardingEvent",
                f"<device>{user}</device><forwardingType>forwardImmediate</forwardingType>"
                f"<forwardStatus>true</forwardStatus><forwardTo>{rng.randint(1000, 9999)}</forwardTo>",
            )
            yield from self._notify(acc, t, call_id, (ttag, htag), cseq, [fwd], "active;expires=3000")
        t += 1200 + rng.random() * 600  # a refresh, then the full state again
        r = self._request(acc, "SUBSCRIBE", f"sip:{user}@example.test", call_id, 4, (htag, ttag), sub_headers)
        yield t, base, AS_ADDRESS, p, r, "fks"
        yield t + 0.004, AS_ADDRESS, base, p, self._response(r, "200 OK", ttag, [("Expires", "3600")]), "fks"
        cseq += 1
        yield from self._notify(
            acc, t + 0.010, call_id, (ttag, htag), cseq, _state_docs(user, rng), "active;expires=3600"
        )
        t += 600 + rng.random() * 600  # the unsubscribe
        u = self._request(
            acc,
            "SUBSCRIBE",
            f"sip:{user}@example.test",
            call_id,
            5,
            (htag, ttag),
            [*sub_headers[:-1], ("Expires", "0")],
        )
        yield t, base, AS_ADDRESS, p, u, "fks"
        yield t + 0.004, AS_ADDRESS, base, p, self._response(u, "200 OK", ttag, [("Expires", "0")]), "fks"
        cseq += 1
        yield from self._notify(acc, t + 0.010, call_id, (ttag, htag), cseq, [], "terminated;reason=timeout")

    def dense(
        self, acc: _Account, t: float
    ) -> Iterator[tuple[float, tuple[str, int], tuple[str, int], str, bytes, str]]:
        """The dense shape's account: SUBSCRIBE, 200, the multipart NOTIFY of the full state, 200."""
        user, base, p = acc.user, acc.base, acc.proto
        tag = f"{acc.rng.getrandbits(64):016x}"
        call_id, htag, ttag = f"fks-{user}-{tag[:8]}@{base[0]}", f"h{tag[:8]}", f"b{tag[8:14]}"
        headers = [
            ("Contact", f"<sip:{user}@{base[0]}:{base[1]}>"),
            ("User-Agent", "Gigaset N870 IP PRO/83.V2.42.0"),
            ("Event", PACKAGE),
            ("Accept", MEDIA),
            ("Expires", "3600"),
        ]
        s = self._request(acc, "SUBSCRIBE", f"sip:{user}@example.test", call_id, 1, (htag, None), headers)
        yield t, base, AS_ADDRESS, p, s, "fks"
        yield t + 0.004, AS_ADDRESS, base, p, self._response(s, "200 OK", ttag, [("Expires", "3600")]), "fks"
        docs = _state_docs(user, acc.rng)
        yield from self._notify(acc, t + 0.010, call_id, (ttag, htag), 1, docs, "active;expires=3600")

    def _notify(
        self, acc: _Account, t: float, call_id: str, tags: tuple[str, str], cseq: int, docs: list[str], state: str
    ) -> Iterator[tuple[float, tuple[str, int], tuple[str, int], str, bytes, str]]:
        if len(docs) > 1:
            body = "".join(f"--fksb\r\nContent-Type: {MEDIA}\r\n\r\n{d}\r\n" for d in docs) + "--fksb--\r\n"
            ctype = [("Content-Type", "multipart/mixed;boundary=fksb")]
        else:
            body, ctype = (docs[0], [("Content-Type", MEDIA)]) if docs else ("", [])
        to = f"<sip:{acc.user}@example.test>;tag={tags[1]}"
        headers = [
            ("Via", f"SIP/2.0/{acc.proto.upper()} {AS_ADDRESS[0]}:{AS_ADDRESS[1]};branch={self._branch()}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{acc.user}@example.test>;tag={tags[0]}"),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} NOTIFY"),
            ("Contact", f"<sip:{AS_ADDRESS[0]}>"),
            ("Event", PACKAGE),
            ("Subscription-State", state),
            *ctype,
        ]
        n = _message(f"NOTIFY sip:{acc.user}@{acc.base[0]}:{acc.base[1]} SIP/2.0", headers, body)
        yield t, AS_ADDRESS, acc.base, acc.proto, n, "fks"
        yield t + 0.003, acc.base, AS_ADDRESS, acc.proto, self._response(n, "200 OK", tags[1]), "fks"

    def noise(
        self, acc: _Account, t: float, count: int
    ) -> Iterator[tuple[float, tuple[str, int], tuple[str, int], str, bytes, str]]:
        """The rest of a site's SIP around one account: calls with RTP, keep-alives, other event packages."""
        rng, base, p = acc.rng, acc.base, acc.proto
        made = 0
        while made < count:
            t += 5 + rng.random() * 120
            kind = rng.random()
            cid = f"n{rng.getrandbits(48):012x}@{base[0]}"
            if kind < 0.5:  # a call: INVITE, 100, 180, 200, ACK, RTP, BYE, 200
                sdp = (
                    f"v=0\r\no=- 1 1 IN IP4 {base[0]}\r\ns=-\r\nc=IN IP4 {base[0]}\r\nt=0 0\r\n"
                    f"m=audio {base[1] + 2000} RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"
                )
                inv = self._request(
                    acc,
                    "INVITE",
                    f"sip:0{rng.randint(100000, 999999)}@example.test",
                    cid,
                    1,
                    (f"c{made}", None),
                    [("Contact", f"<sip:{acc.user}@{base[0]}>"), ("Content-Type", "application/sdp")],
                    sdp,
                )
                yield t, base, AS_ADDRESS, p, inv, "other"
                for dt, status in ((0.01, "100 Trying"), (0.3, "180 Ringing"), (2.0, "200 OK")):
                    yield t + dt, AS_ADDRESS, base, p, self._response(inv, status, "callee"), "other"
                ack = self._request(acc, "ACK", "sip:callee@198.51.100.20", cid, 1, (f"c{made}", "callee"), [])
                yield t + 2.05, base, AS_ADDRESS, p, ack, "other"
                rtp_src, rtp_dst = (base[0], base[1] + 2000), ("203.0.113.50", 40000 + made % 1000 * 2)
                for i in range(self.opts.rtp):
                    rtp = struct.pack("!BBHII", 0x80, 8, i, i * 160, 0x1234) + bytes(160)
                    yield t + 2.1 + i * 0.02, rtp_src, rtp_dst, "udp", rtp, "rtp"
                bye = self._request(acc, "BYE", "sip:callee@198.51.100.20", cid, 2, (f"c{made}", "callee"), [])
                yield t + 3 + self.opts.rtp * 0.02, base, AS_ADDRESS, p, bye, "other"
                yield (
                    t + 3.01 + self.opts.rtp * 0.02,
                    AS_ADDRESS,
                    base,
                    p,
                    self._response(bye, "200 OK", "callee"),
                    "other",
                )
                made += 7
            elif kind < 0.8:  # a keep-alive
                o = self._request(acc, "OPTIONS", "sip:example.test", cid, 1, (f"o{made}", None), [])
                yield t, base, AS_ADDRESS, p, o, "other"
                yield t + 0.003, AS_ADDRESS, base, p, self._response(o, "200 OK", "as"), "other"
                made += 2
            else:  # another event package
                event = rng.choice(["presence", "message-summary", "dialog"])
                s = self._request(
                    acc,
                    "SUBSCRIBE",
                    f"sip:{acc.user}@example.test",
                    cid,
                    1,
                    (f"e{made}", None),
                    [("Event", event), ("Expires", "3600")],
                )
                yield t, base, AS_ADDRESS, p, s, "other"
                yield t + 0.004, AS_ADDRESS, base, p, self._response(s, "200 OK", "as", [("Expires", "3600")]), "other"
                n = self._request(
                    acc,
                    "NOTIFY",
                    f"sip:{acc.user}@{base[0]}",
                    cid,
                    1,
                    ("as", f"e{made}"),
                    [("Event", event), ("Subscription-State", "active;expires=3600")],
                    src=AS_ADDRESS,
                )
                yield t + 0.01, AS_ADDRESS, base, p, n, "other"
                yield t + 0.013, base, AS_ADDRESS, p, self._response(n, "200 OK", f"e{made}"), "other"
                made += 4


def synthesize(path: str | Path, opts: SynthOptions) -> Stats:
    """Write the capture; returns what it holds."""
    n = max(1, opts.subscriptions)
    bases = opts.bases or -(-n // 250)
    flows = _Flows(opts)
    generators = []
    start = 1_700_000_000.0
    for i in range(n):
        b = i % bases
        rng = random.Random(opts.seed * 1_000_003 + i)
        dense = opts.shape == "dense"
        proto = "tcp" if b < round(bases * opts.tcp_share) and not dense else "udp"
        base = (f"10.{(b >> 8) & 255}.{b & 255}.10", 5060 + (i // bases) if proto == "udp" else 5060)
        acc = _Account(f"{100000 + i}", base, proto, rng)
        t = start + rng.random() * opts.duration
        generators.append(flows.dense(acc, t) if dense else flows.subscription(acc, t))
        if opts.noise > 0 and not dense:
            generators.append(flows.noise(acc, t, round(18 * opts.noise)))
    stats = Stats(subscriptions=n)
    order = iter(range(1 << 62))
    merged = heapq.merge(*(((e[0], next(order), *e[1:]) for e in g) for g in generators))
    with Path(path).open("wb") as fh:
        writer = PcapWriter(fh)
        for when, _, src, dst, proto, payload, kind in merged:
            writer.write(when, src, dst, proto, payload)
            stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
            if kind != "rtp":
                stats.sip_messages += 1
            if kind == "fks":
                stats.feature_sync_messages += 1
        stats.packets = writer.packets
    return stats
