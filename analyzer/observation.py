"""What every traffic source hands to the core: one SIP message seen on the wire, with its evidence reference.

A pcap reader, a live peer's message log and a test all produce the same ``Observation``, so the same rules
judge all three: two independent records of the same traffic must agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A transport address. ``host`` is the textual IPv4/IPv6 address, as tshark prints it."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``HOST:PORT`` as ``str`` writes it (an IPv6 host in brackets, which are not part of the address): the
        one parser of addresses, for command lines, options and reports. ValueError (one line) otherwise."""
        host, colon, port = text.strip().rpartition(":")
        host = host.strip("[]")
        if not colon or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"expected HOST:PORT, not {text!r}")
        return cls(host, int(port))


@dataclass(frozen=True, slots=True)
class Observation:
    """One SIP message as observed.

    ``index`` is the evidence reference: the frame number in a capture (the frame that completes the message
    when TCP reassembly spans several), or the message number in a live log. ``time`` is in seconds (epoch
    or relative, only differences matter). ``data`` is the raw SIP message, start line to end of body.
    """

    index: int
    time: float
    src: Endpoint
    dst: Endpoint
    transport: str  # "udp", "tcp", "tls", "sctp", "ws"
    data: bytes
