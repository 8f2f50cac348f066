"""HOST:PORT as the command line and the suite's options spell it: the one parser of the peers' addresses.

An IPv6 host is written in brackets (``[::1]:5070``), as ``Endpoint.__str__`` writes it; the brackets are not
part of the address.
"""

from __future__ import annotations

from analyzer.observation import Endpoint


def parse_endpoint(text: str) -> Endpoint:
    """``HOST:PORT`` -> ``Endpoint``; ValueError (one line, naming the text) when it is not one."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return Endpoint(host, int(port))
