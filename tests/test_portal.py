"""The AS's web portal refuses a request whose Content-Length it cannot trust, at once, and goes on serving.

A real portal (``serve_portal``: the stdlib HTTP server in its thread) on a loopback port, spoken to over a
plain socket so the test writes exactly the bytes a broken or hostile client would.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from analyzer.observation import Endpoint
from peers.io.portal import MAX_BODY, Portal, serve_portal
from peers.sansio.broadworks import ApplicationServer

SERVICE = "/com.broadsoft.xsi-actions/v2.0/user/1001/services/DoNotDisturb"
DND_ON = b'<DoNotDisturb xmlns="http://schema.broadsoft.com/xsi"><active>true</active></DoNotDisturb>'
PROMPT = 2.0  # seconds: a refusal comes at once; the portal's own client timeout is 10 s


@pytest.fixture
def portal() -> Iterator[int]:
    """The port of a running portal (of an AS without subscriptions: a change sends no NOTIFY)."""
    loop = asyncio.new_event_loop()
    server = ApplicationServer(Endpoint("127.0.0.1", 5060))
    httpd = serve_portal(Portal(server, time.time), lambda batch: None, loop)
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        loop.close()


def exchange(port: int, request: bytes, *, then_close: bool = False) -> tuple[int, bytes, float]:
    """Send ``request`` raw; the status, the response body and the seconds the answer took."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=PROMPT + 3) as sock:
        sock.sendall(request)
        if then_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), data[:200]
    return int(head.split()[1]), body, time.monotonic() - began


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def dnd(port: int) -> bytes:
    status, body, _ = exchange(port, f"GET {SERVICE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 200, body
    return body.split(b"<active>")[1].split(b"</active>")[0]


def put(length: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"PUT {SERVICE} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}\r\n"
    return head.encode("latin-1") + body


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("abc", 400),
        ("-5", 400),
        ("-1", 400),
        ("1e3", 400),
        ("0x10", 400),
        ("+5", 400),
        ("1_0", 400),
        ("\u00b9", 400),  # a superscript one: str.isdigit() says yes, int() says no
        ("", 400),
        (str(MAX_BODY + 1), 413),
        ("9" * 5000, 413),  # more digits than int() converts by default
    ],
)
def test_an_untrustworthy_content_length_is_refused_at_once(portal: int, length: str, status: int) -> None:
    port = portal
    got, reason, took = exchange(port, put(length, DND_ON))
    assert (got, took < PROMPT) == (status, True), (got, reason, took)
    assert reason.endswith(b"\n") and 0 < len(reason) < 80  # a short reason, one line
    # nothing was changed, and the portal goes on serving: a read, a good change, the read shows it
    assert dnd(port) == b"false"
    assert exchange(port, put(str(len(DND_ON)), DND_ON))[0] == 200
    assert dnd(port) == b"true"


def test_conflicting_lengths_and_chunked_bodies_are_refused(portal: int) -> None:
    assert exchange(portal, put("5", DND_ON, "Content-Length: 90\r\n"))[0] == 400
    assert exchange(portal, put("5", DND_ON, "Transfer-Encoding: chunked\r\n"))[0] == 400
    assert dnd(portal) == b"false"


def test_a_body_shorter_than_its_length_is_refused_when_the_client_stops(portal: int) -> None:
    status, reason, took = exchange(portal, put(str(len(DND_ON) + 50), DND_ON), then_close=True)
    assert status == 400 and b"shorter" in reason and took < PROMPT
    assert dnd(portal) == b"false"
    assert exchange(portal, put(str(len(DND_ON)), DND_ON))[0] == 200


def test_a_non_ascii_token_is_refused_not_crashed_on() -> None:
    """With a token, the Authorization header is compared in constant time: a latin-1 value is just wrong."""
    loop = asyncio.new_event_loop()
    httpd = serve_portal(Portal(ApplicationServer(Endpoint("127.0.0.1", 5060)), time.time), print, loop, token="t0k")
    try:
        port = httpd.server_address[1]
        request = f"GET {SERVICE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\xe9k\r\n\r\n".encode("latin-1")
        assert exchange(port, request)[0] == 401
        good = f"GET {SERVICE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\n\r\n".encode()
        assert exchange(port, good)[0] == 200
    finally:
        httpd.shutdown()
        httpd.server_close()
        loop.close()
