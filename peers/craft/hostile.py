"""Hostile input for the robustness scenarios: documents and captures built to hurt a parser.

Documents: entity expansion ("billion laughs"), external entities pointing at a file and at an HTTP server,
a bare DTD, a 10 MB body, 10,000-deep nesting, invalid and exotic encodings. Captures: each document in
the initial NOTIFY of an otherwise correct subscription (over TCP, so a 10 MB body fits), and damaged
files (truncated, a corrupt block, empty, not a capture, random bytes on the SIP port, garbage between
messages of a TCP stream, a haystack of packets around three feature-sync messages).
"""

from __future__ import annotations

import os
import random
import struct
from dataclasses import replace
from pathlib import Path

from analyzer.vocab import NS as VOCAB_NS
from peers.craft.flows import FULL_STATE, MEDIA, Flow, merge
from peers.craft.pcapfile import PcapWriter
from peers.craft.wire import WireMessage, corrupt, truncate, write_capture

NS = VOCAB_NS.encode()


def _dnd(device: bytes = b"1001", prolog: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>'
        + prolog
        + b'<DoNotDisturbEvent xmlns="'
        + NS
        + b'"><device>'
        + device
        + b"</device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"
    )


def hostile_document(kind: str, http_url: str = "http://127.0.0.1:9/") -> bytes:
    """One hostile DoNotDisturbEvent (or something that claims to be one)."""
    if kind == "billion laughs":
        entities = b'<!ENTITY a0 "lol">' + b"".join(
            f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">'.encode() for i in range(1, 10)
        )
        return _dnd(b"&a9;", b"<!DOCTYPE d [" + entities + b"]>")
    if kind == "external file entity":
        return _dnd(b"&x;", b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    if kind == "external http entity":
        return _dnd(b"&x;", b'<!DOCTYPE d [<!ENTITY x SYSTEM "' + http_url.encode() + b'">]>')
    if kind == "a DTD":
        return _dnd(prolog=b"<!DOCTYPE DoNotDisturbEvent [<!ELEMENT device (#PCDATA)>]>")
    if kind == "a 10 MB body":
        return _dnd(b"1001" + b"<x>" * 10 + b"z" * (10 * 1024 * 1024))  # never closed: not well formed
    if kind == "10000-deep nesting":
        return _dnd(b"<a>" * 10_000 + b"1001" + b"</a>" * 10_000)
    if kind == "invalid UTF-8":
        return _dnd(b"\xff\xfe\xc3\x28").replace(b"ISO-8859-1", b"UTF-8")
    if kind == "UTF-7":
        return _dnd(b"+ADw-script+AD4-").replace(b"ISO-8859-1", b"UTF-7")
    raise ValueError(f"unknown hostile document {kind!r}")


def hostile_change(kind: str, user: str) -> bytes:
    """A hostile change request (the body of a handset's SUBSCRIBE): the AS must refuse it, expand nothing."""
    request = _dnd(user.encode()).replace(b"DoNotDisturbEvent", b"SetDoNotDisturb")
    if kind == "billion laughs":
        return hostile_document(kind).replace(b"DoNotDisturbEvent", b"SetDoNotDisturb")
    if kind == "external entity":
        return hostile_document("external file entity").replace(b"DoNotDisturbEvent", b"SetDoNotDisturb")
    if kind == "not xml":
        return request[: len(request) // 2]
    if kind == "bad boolean":
        return request.replace(b">true<", b">maybe<")
    raise ValueError(f"unknown hostile change request {kind!r}")


def capture_with_document(path: Path, doc: bytes) -> Path:
    """A correct subscription whose initial NOTIFY carries ``doc``, over TCP (any size fits)."""
    flow = Flow(transport="TCP")
    flow.subscribe()
    flow.respond()
    flow.notify(raw_body=(MEDIA, b"PLACEHOLDER"))
    flow.respond()  # answered before the body goes in: the flow builder refuses to parse a 10 MB message
    notify = flow.observations[2]
    data = notify.data.replace(b"Content-Length: 11\r\n", f"Content-Length: {len(doc)}\r\n".encode(), 1)
    flow.observations[2] = replace(notify, data=data.removesuffix(b"PLACEHOLDER") + doc)
    messages = [
        WireMessage(
            o.time,
            (o.src.host, o.src.port),
            (o.dst.host, o.dst.port),
            o.data,
            "tcp",
            segments=max(1, -(-len(o.data) // 60_000)),
        )
        for o in merge(flow)
    ]
    return write_capture(path, messages)


def damaged_capture(kind: str, path: Path) -> Path:
    """Captures damaged the ways field captures are."""
    flow = Flow()
    flow.establish()
    flow.subscribe(expires=0)
    flow.respond(expires=0)
    good = [WireMessage(o.time, (o.src.host, o.src.port), (o.dst.host, o.dst.port), o.data) for o in flow.observations]
    if kind == "a truncated file":
        write_capture(path, good)
        truncate(path, path.stat().st_size - 150)
    elif kind == "a corrupt block in the middle":
        write_capture(path.with_suffix(".pcapng"), good)
        path = path.with_suffix(".pcapng")
        corrupt(path, path.stat().st_size // 2, 64)
    elif kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "not a capture":
        path.write_bytes(b"%PDF-1.7\n" + os.urandom(2048))
    elif kind == "random bytes on port 5060":
        rng = random.Random(5)
        noise = [
            WireMessage(
                1000.5 + i / 100,
                ("192.0.2.99", 5060),
                ("198.51.100.20", 5060),
                bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400))),
            )
            for i in range(50)
        ]
        write_capture(path, sorted(good + noise, key=lambda m: m.time))
    elif kind == "garbage between the messages of a TCP stream":
        tcp = [
            WireMessage(m.time, m.src, m.dst, m.data + (b"\x00garbage\xff" * 30 if i == 1 else b""), "tcp")
            for i, m in enumerate(good)
        ]
        write_capture(path, tcp)
    else:
        raise ValueError(f"unknown damage {kind!r}")
    return path


def haystack(path: Path, packets: int) -> Path:
    """``packets`` UDP packets of RTP-like noise with one feature-sync subscription's three messages inside."""
    flow = Flow()
    flow.subscribe()
    flow.respond()
    flow.notify(FULL_STATE)
    middle = packets // 2
    needles = {middle: 0, middle + 1: 1, middle + 2: 2}  # a millisecond apart, like a real exchange
    with path.open("wb") as fh:
        writer = PcapWriter(fh)
        rtp = struct.pack("!BBHII", 0x80, 8, 0, 0, 1) + bytes(160)
        for i in range(packets):
            if i in needles:
                o = flow.observations[needles[i]]
                writer.write(1000.0 + i / 1000, (o.src.host, o.src.port), (o.dst.host, o.dst.port), "udp", o.data)
            else:
                writer.write(1000.0 + i / 1000, ("10.0.0.1", 40000), ("10.0.0.2", 40002), "udp", rtp)
    return path
