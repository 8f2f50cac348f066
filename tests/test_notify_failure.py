"""A NOTIFY that fails ends its subscription on the AS emulator (RFC 6665 section 4.2.2): a 481 (the subscriber
does not know the dialog), or no final answer at all (Timer F, which the transport reports). A long-running ``fks as``
would otherwise notify, for the rest of a grant, an address that a later subscriber may have by then."""

from __future__ import annotations

import asyncio
import socket

import pytest

from analyzer.observation import Endpoint
from analyzer.sip import parse_message
from peers.io.transport import UdpPeer
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.features import change_request
from peers.sansio.outgoing import Outgoing
from tests.test_plain_subscribe import AS, PHONE, SIPP


def _subscribed() -> tuple[ApplicationServer, Outgoing]:
    server = ApplicationServer(AS)
    ok, notify = server.receive(SIPP, PHONE, 1000.0)
    assert parse_message(ok.data).status == 200 and len(server.subscriptions) == 1
    return server, notify


def _answer(notify: Outgoing, status: str) -> bytes:
    """The subscriber's response to ``notify``: its Via, From, To, Call-ID and CSeq copied."""
    head = notify.data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    copied = [line for line in head[1:] if line.split(b":", 1)[0] in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")]
    return b"\r\n".join([f"SIP/2.0 {status}".encode(), *copied]) + b"\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        ("200 OK", True),
        ("481 Call/Transaction Does Not Exist", False),  # the subscriber does not know the dialog
        ("500 Server Internal Error", True),  # e.g. a NOTIFY retransmitted out of order, under loss
    ],
)
def test_a_481_to_a_notify_ends_the_subscription(status: str, kept: bool) -> None:
    server, notify = _subscribed()
    assert server.receive(_answer(notify, status), PHONE, 1001.0) == []
    assert bool(server.subscriptions) is kept


def test_a_481_for_another_dialog_ends_nothing() -> None:
    server, notify = _subscribed()
    other = _answer(notify, "481 Call/Transaction Does Not Exist").replace(b";tag=as", b";tag=xx")
    server.receive(other, PHONE, 1001.0)
    assert len(server.subscriptions) == 1


def test_a_notify_no_one_answers_ends_the_subscription_once_the_transport_gives_up() -> None:
    """Over real UDP, to a port where nobody reads: Timer F (64*T1, T1 = 20 ms here) ends the NOTIFY's
    transaction, the transport says so (``gave_up``), and the subscription is gone; no NOTIFY follows it."""
    server, notify = _subscribed()

    async def run() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            far = Endpoint(*silent.getsockname())
            peer = UdpPeer(server.receive, t1=0.02, gave_up=server.failed)
            await peer.start()
            peer.send(Outgoing(notify.data, far, True, notify.branch))
            await peer.wait_until(lambda: peer.idle, timeout=5.0)
            peer.close()
            return len(server.subscriptions)

    assert asyncio.run(asyncio.wait_for(run(), 20)) == 0
    assert server.portal_change("41", change_request("DND", True, "41"), 1002.0) == []  # no one left to tell
