"""``fks as --workers N``: N processes behind one UDP port, each holding its share of the users.

The kernel hands a datagram to whichever process its sender's address hashes to; these tests send from many
sockets, so datagrams land on the process that does not hold their user, and check that every user's
SUBSCRIBE, portal change and FAC call still reach the one process that holds the user's state.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from peers.io.shards import _Inbox, listening, pack, same_user
from peers.sansio.glance import shard_of, shard_of_user
from tests.sipp_peer import needs_sipp
from tests.test_live import _start, _stop, read_until

ROOT = Path(__file__).resolve().parents[1]
DND_ON = b'<DoNotDisturb xmlns="http://schema.broadsoft.com/xsi"><active>true</active></DoNotDisturb>'


def _subscribe(user: str, port: int, call: int) -> bytes:
    return (
        f"SUBSCRIBE sip:{user}@example.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-w{call}\r\n"
        f"From: <sip:{user}@example.test>;tag=w{call}\r\nTo: <sip:{user}@example.test>\r\n"
        f"Call-ID: w{call}@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\n"
        "Max-Forwards: 70\r\nEvent: as-feature-event\r\nAccept: application/x-as-feature-event+xml\r\n"
        "Expires: 600\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _invite(user: str, port: int, call: int, dialled: str) -> bytes:
    return (
        f"INVITE sip:{dialled}@example.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-i{call}\r\n"
        f"From: <sip:{user}@example.test>;tag=i{call}\r\nTo: <sip:{dialled}@example.test>\r\n"
        f"Call-ID: i{call}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _ok(request: bytes) -> bytes:
    """The 200 a base answers a NOTIFY with (headers copied as RFC 3261 section 8.2.6.2 says)."""
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [
        line for line in head[1:] if line.split(b":", 1)[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")
    ]
    return b"\r\n".join([b"SIP/2.0 200 OK", *keep, b"Content-Length: 0", b"", b""])


def _until(sock: socket.socket, start: bytes) -> bytes:
    """The next datagram that starts with ``start`` (a NOTIFY is answered; retransmissions are skipped)."""
    while True:
        data = sock.recv(65535)  # the socket's timeout bounds the wait
        if data.startswith(b"NOTIFY "):
            sock.send(_ok(data))
        if data.startswith(start):
            return data


def test_the_glance_finds_one_user_in_every_message_of_the_user() -> None:
    """A SUBSCRIBE, the AS's NOTIFY and the base's 200 to it carry the user in From: one share for all three."""
    subscribe = _subscribe("1001", 5062, 1)
    notify = subscribe.replace(b"SUBSCRIBE", b"NOTIFY", 1)
    ok = b"SIP/2.0 200 OK\r\nFrom: <sip:1001@example.test>;tag=as1\r\nCSeq: 1 NOTIFY\r\n\r\n"
    assert {shard_of(m, 4) for m in (subscribe, notify, ok)} == {shard_of_user("1001", 4)}
    assert shard_of(b"\r\n\r\n", 4) == 0 and shard_of(subscribe, 1) == 0  # no From user: the first share
    spread = [shard_of_user(str(1000 + n), 2) for n in range(2000)]
    assert 800 < spread.count(0) < 1200  # CRC-32 spreads a numbering plan over the shares


def test_a_handed_over_datagram_survives_any_cut_of_the_stream() -> None:
    """Frames on the stream between shares are cut where the kernel likes: every cut gives back the datagrams."""
    got: list[tuple[bytes, tuple[str, int]]] = []

    class Peer:
        def deliver(self, data: bytes, addr: tuple[str, int]) -> None:
            got.append((data, addr))

    frames = pack(b"SUBSCRIBE one", ("127.0.0.1", 5062)) + pack(b"", ("::1", 1)) + pack(b"x" * 3000, ("10.0.0.9", 9))
    for size in (1, 7, 64, len(frames)):
        got.clear()
        inbox = _Inbox(Peer())  # type: ignore[arg-type]
        for at in range(0, len(frames), size):
            inbox.data_received(frames[at : at + size])
        assert got == [(b"SUBSCRIBE one", ("127.0.0.1", 5062)), (b"", ("::1", 1)), (b"x" * 3000, ("10.0.0.9", 9))]


@pytest.fixture
def sharded_as() -> tuple[int, int, subprocess.Popen[str]]:
    proc = _start("as", "--listen", "127.0.0.1:0", "--workers", "2", "--portal", "127.0.0.1:0")
    lines = read_until(proc, r"portal on http://")
    sip = int(re.search(r"udp 127\.0\.0\.1:(\d+) .*2 processes", "\n".join(lines)).group(1))  # type: ignore[union-attr]
    portal = int(lines[-1].rsplit(":", 1)[1])
    yield sip, portal, proc
    code, err = _stop(proc)
    assert code == 0 and "Traceback" not in err, err


def test_every_user_reaches_the_share_that_holds_it(sharded_as: tuple[int, int, subprocess.Popen[str]]) -> None:
    """Eight users from eight sockets: each gets its initial NOTIFY, then a portal change and a FAC call of
    each user come back as NOTIFYs on that user's subscription, whichever share the kernel gave them to."""
    sip, portal, _ = sharded_as
    users = [str(2001 + n) for n in range(8)]
    assert {shard_of_user(u, 2) for u in users} == {0, 1}  # both shares hold some of them
    socks = []
    for n, user in enumerate(users):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5.0)
        sock.bind(("127.0.0.1", 0))
        sock.connect(("127.0.0.1", sip))
        sock.send(_subscribe(user, sock.getsockname()[1], n))
        socks.append(sock)
    for sock in socks:
        initial = _until(sock, b"NOTIFY ")
        assert b"<doNotDisturbOn>false</doNotDisturbOn>" in initial.replace(b" ", b""), initial[-600:]
    for user, sock in zip(users, socks, strict=True):
        web = http.client.HTTPConnection("127.0.0.1", portal, timeout=5)
        web.request("PUT", f"/com.broadsoft.xsi-actions/v2.0/user/{user}/services/DoNotDisturb", DND_ON)
        assert web.getresponse().status == 200
        changed = _until(sock, b"NOTIFY ")
        assert b"<doNotDisturbOn>true</doNotDisturbOn>" in changed.replace(b" ", b""), changed[-600:]
        sock.send(_invite(user, sock.getsockname()[1], 100 + users.index(user), "%2A79"))  # *79: DND off
        assert _until(sock, b"SIP/2.0 480").startswith(b"SIP/2.0 480")
        off = _until(sock, b"NOTIFY ")
        assert b"<doNotDisturbOn>false</doNotDisturbOn>" in off.replace(b" ", b""), off[-600:]
    for sock in socks:
        sock.close()


@needs_sipp
def test_sipp_storm_over_a_socket_per_call_loses_nothing(
    sharded_as: tuple[int, int, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """SIPp, one socket per call (``-t un``): half the datagrams reach the share not holding their user and
    are handed over; every call of the storm still ends well."""
    sip, _, _ = sharded_as
    run = subprocess.run(
        ["sipp", "-sf", str(ROOT / "tests" / "sipp" / "storm.xml"), "-t", "un", "-max_socket", "1000",
         "-r", "200", "-m", "400",
         "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "60s", "-trace_stat", f"127.0.0.1:{sip}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=90,
    )  # fmt: skip
    stat = next(tmp_path.glob("storm_*.csv")).read_text().splitlines()
    row = dict(zip(stat[0].split(";"), stat[-1].split(";"), strict=False))
    assert run.returncode == 0 and (row["SuccessfulCall(C)"], row["FailedCall(C)"]) == ("400", "0"), run.stderr[-2000:]


def test_workers_refuse_a_stream_transport_in_one_line() -> None:
    proc = _start("as", "--listen", "127.0.0.1:0", "--workers", "2", "--transport", "tcp")
    code, err = _stop(proc, interrupt=False)
    assert code == 2 and err.strip().splitlines() == [
        "fks: error: --workers shares a UDP port: use it with --transport udp"
    ]


def test_a_share_that_dies_stops_the_as_with_one_line() -> None:
    """A share gone would silently lose its users' datagrams: the AS stops, exit 1, saying which."""
    proc = _start("as", "--listen", "127.0.0.1:0", "--workers", "2")
    read_until(proc, r"2 processes")
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert len(children) == 2
    subprocess.run(["kill", "-KILL", children[1]], check=True)
    code, err = _stop(proc, interrupt=False)
    assert code == 1 and re.search(r"AS process fks-as-\d ended \(exit -9\): stopping", err), err
    assert not Path(f"/proc/{children[0]}").exists()  # the other share was stopped with it, and reaped


def test_a_port_held_by_another_as_is_refused_not_shared(sharded_as: tuple[int, int, subprocess.Popen[str]]) -> None:
    """SO_REUSEPORT would let a second ``fks as --workers`` join the first one's port and take part of its
    users' traffic: the second is refused in one line, as a plain ``fks as`` would be."""
    sip, _, _ = sharded_as
    for extra in (["--workers", "2"], []):
        proc = _start("as", "--listen", f"127.0.0.1:{sip}", *extra)
        code, err = _stop(proc, interrupt=False)
        assert code == 2 and err.strip() == f"fks: error: cannot listen on 127.0.0.1:{sip}: Address already in use"


@pytest.mark.skipif(os.getuid() != 0, reason="making a process of another user needs root")
def test_another_users_process_is_not_heard_on_the_shares_sockets() -> None:
    """An abstract Unix address has no file permissions: a process of another local user could hand the AS
    forged datagrams or change features through it, so a share closes such a connection unread."""
    address = f"\0fks-test-{os.getpid()}"
    server = listening(address)
    server.setblocking(True)
    server.settimeout(5)
    try:
        for uid, expected in ((os.getuid(), True), (65534, False)):
            code = f"import socket, time; s = socket.socket(socket.AF_UNIX); s.connect({address!r}); time.sleep(5)"
            # the system's interpreter: another user may not be able to read this project's venv
            client = subprocess.Popen([shutil.which("python3", path="/usr/bin:/bin") or sys.executable, "-c", code],
                                      user=uid, cwd="/")  # fmt: skip
            conn, _ = server.accept()
            try:
                assert same_user(conn) is expected
            finally:
                conn.close()
                client.kill()
                client.wait()
    finally:
        server.close()
