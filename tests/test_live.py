"""Live exchanges over real UDP sockets: ``fks as`` started as a separate process, our base emulator against it.

The base's message log is judged by the same rules as a capture; no sleeps stand in for synchronisation
(each step waits for the message it needs, with a timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from analyzer.judging import AuditSettings, judge
from analyzer.observation import Endpoint
from analyzer.rules.base import Options
from analyzer.verdicts import Verdict
from peers.io.recorder import Recorder, can_sniff
from peers.io.transport import UdpPeer
from peers.sansio.gigaset import Base, Handset
from tests.sipp_peer import free_port, needs_sipp, sipp_command


async def recorded_pair(make_as_peer: Callable[..., Any]) -> tuple[Any, Base, UdpPeer, Recorder]:
    """Our AS (on the peer ``make_as_peer`` builds) and our base with handset 1001, both on 127.0.0.1, and a
    recorder on their ports, started."""
    from peers.sansio.broadworks import ApplicationServer

    server = ApplicationServer(Endpoint("127.0.0.1", 0))
    as_peer = make_as_peer(server.receive)
    server.local = await as_peer.start("127.0.0.1", 0)
    base = Base(Endpoint("127.0.0.1", 0), server.local, {"1001": Handset("1001", "example.test")})
    base_peer = UdpPeer(lambda data, src, now: base.receive(data, src, now))
    base.local = await base_peer.start("127.0.0.1", 0)
    recorder = Recorder([server.local.port, base.local.port])
    await asyncio.to_thread(recorder.start)
    return as_peer, base, base_peer, recorder


@pytest.fixture
def fks_as(tmp_path: Path) -> Iterator[tuple[Endpoint, subprocess.Popen[str]]]:
    users = tmp_path / "users.json"
    spec = {"1001": {"password": "pw-1001", "forwards": {"CFNA": {"target": "1002", "rings": 4}}}}
    users.write_text(json.dumps(spec))
    proc = subprocess.Popen(
        [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0", "--users", str(users)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"listening on udp ([\d.]+):(\d+)", first)
    assert match, first + (proc.stderr.read() if proc.stderr else "")
    yield Endpoint(match.group(1), int(match.group(2))), proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


async def conversation(server: Endpoint) -> tuple[UdpPeer, Base]:
    base = Base(Endpoint("127.0.0.1", 0), server, {"1001": Handset("1001", "example.test", "pw-1001")})
    peer = UdpPeer(lambda data, src, now: base.receive(data, src))
    base.local = await peer.start("127.0.0.1", 0)
    hs = base.handsets["1001"]
    try:
        peer.send(base.subscribe("1001"))
        await peer.wait_until(lambda: hs.screen.notified >= 1)
        assert hs.screen.view.forwards["CFNA"].target == "1002"
        peer.send(base.set_dnd("1001", True))
        await peer.wait_until(lambda: hs.screen.view.dnd)
        peer.send(base.unsubscribe("1001"))
        await peer.wait_until(lambda: any(b"terminated" in o.data for o in peer.observations))
        await peer.wait_until(lambda: peer.observations[-1].data.startswith(b"SIP/2.0 200"))
    finally:
        peer.close()
    return peer, base


def test_base_emulator_against_fks_as_process(fks_as: tuple[Endpoint, subprocess.Popen[str]]) -> None:
    server, proc = fks_as
    peer, _ = asyncio.run(asyncio.wait_for(conversation(server), 30))
    judgement, count = judge(peer.observations, AuditSettings())
    verdicts = {r.rule: r for r in judgement.results()}
    assert count == len(peer.observations) >= 10
    for rule in ("FKS-RSP-1", "FKS-NTF-1", "FKS-NTF-2", "FKS-HS-1", "FKS-HS-3", "FKS-TRM-1", "FKS-SIP-1"):
        assert verdicts[rule].verdict is Verdict.PASS, verdicts[rule]
    assert "challenge" in verdicts["FKS-RSP-1"].detail
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    lines = out.splitlines()
    assert "<- 127.0.0.1" in out and any("SUBSCRIBE" in line for line in lines) and "pw-1001" not in out
    assert lines[-1] == "fks as: stopped"


def test_fks_as_rejects_a_bad_users_file(tmp_path: Path) -> None:
    bad = tmp_path / "users.json"
    bad.write_text("{not json")
    run = subprocess.run(
        [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0", "--users", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1


class Lines:
    """A process's stdout, line by line, read in a thread: ``select`` on a buffered pipe would miss lines
    already pulled into Python's buffer."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        import queue
        import threading

        self.proc = proc
        self.queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, pattern: str, timeout: float = 15.0) -> list[str]:
        """Lines up to the first matching ``pattern`` (AssertionError after ``timeout``)."""
        import queue
        import time

        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
            if re.search(pattern, line):
                return lines
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got {lines}")

    def rest(self) -> list[str]:
        """Every remaining line, once the process has ended."""
        out = []
        while (line := self.queue.get(timeout=10)) is not None:
            out.append(line)
        return out


_LINES: dict[int, Lines] = {}


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 15.0) -> list[str]:
    if proc.pid not in _LINES:
        _LINES[proc.pid] = Lines(proc)
    return _LINES[proc.pid].until(pattern, timeout)


def test_fks_base_against_fks_as_both_processes(fks_as: tuple[Endpoint, subprocess.Popen[str]], tmp_path: Path) -> None:
    from tests.test_rules import provisioning

    server, as_proc = fks_as
    prov = tmp_path / "n870.xml"
    prov.write_bytes(
        provisioning(("00001", "1001", "1"), ("00002", "1002", "0")).replace(
            b'value="1001"/>', b'value="1001"/><param name="SipAccount.00001.AuthPassword" value="pw-1001"/>', 1
        )
    )
    base = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "peers.cli",
            "base",
            "--as",
            str(server),
            "--provisioning",
            str(prov),
            "--model",
            "N870",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert "1 handset(s) with feature sync" in read_until(base, r"fks base:")[0]
        seen = read_until(as_proc, r"<- .* 200 OK \(NOTIFY\)")
        assert any("SUBSCRIBE [1001]" in line for line in seen)
        assert any("REGISTER [1002]" in line for line in seen)  # every account registers,
        assert not any("SUBSCRIBE [1002]" in line for line in seen)  # only the enabled one subscribes (PRV-1)
        base.send_signal(signal.SIGINT)
        read_until(as_proc, r"<- .* 200 OK \(NOTIFY\)")  # the base answered the terminating NOTIFY
        base.wait(timeout=10)
        rest = _LINES[base.pid].rest()
        err = base.stderr.read() if base.stderr else ""
        assert base.returncode == 0 and rest[-1] == "fks base: stopped" and "Traceback" not in err
    finally:
        if base.poll() is None:
            base.kill()


@pytest.mark.skipif(not can_sniff(), reason="capturing needs root or CAP_NET_RAW")
def test_log_and_wire_capture_give_the_same_verdicts(tmp_path: Path) -> None:
    """DESIGN.md: a live scenario has two records, the peers' log and the capture; both must be judged alike."""
    import shutil

    from analyzer.audit import audit_file, judgement_json, worst_by_rule

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")

    async def run() -> tuple[UdpPeer, UdpPeer, Recorder]:
        as_peer, base, base_peer, recorder = await recorded_pair(UdpPeer)
        hs = base.handsets["1001"]
        try:
            base_peer.send(base.subscribe("1001"))
            await base_peer.wait_until(lambda: hs.screen.notified >= 1)
            base_peer.send(base.set_forward("1001", "CFB", True, "1009"))
            await base_peer.wait_until(lambda: hs.screen.view.forwards["CFB"].active)
            base_peer.send(base.unsubscribe("1001"))
            await base_peer.wait_until(lambda: hs.dialog.ended)
            await as_peer.wait_until(lambda: as_peer.observations[-1].data.startswith(b"SIP/2.0 200"))
            # every message of this exchange went through the base, once: the capture must hold as many
            assert await asyncio.to_thread(recorder.wait_for, len(base_peer.observations))
        finally:
            recorder.stop()
            base_peer.close()
            as_peer.close()
        return base_peer, as_peer, recorder

    base_peer, _, recorder = asyncio.run(asyncio.wait_for(run(), 30))
    pcap = recorder.write(tmp_path / "live.pcapng")
    from_log, _ = judge(base_peer.observations, AuditSettings())
    subs, capture = judgement_json(from_log)
    log_view = {"subscriptions": subs, "verdicts": capture}
    wire_view = audit_file(pcap, AuditSettings())
    assert wire_view["errors"] == [] and wire_view["sip_messages"] == len(base_peer.observations)
    assert worst_by_rule(wire_view) == worst_by_rule(log_view)
    assert worst_by_rule(wire_view)["FKS-HS-3"] == "pass"


def test_udp_requests_are_retransmitted_until_answered() -> None:
    """RFC 3261 17.1.2: Timer E doubles from T1; a final response stops it (state checked, not timing)."""
    import socket

    from peers.sansio.outgoing import Outgoing

    async def run() -> tuple[list[float], bool]:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        far = Endpoint(*silent.getsockname())
        peer = UdpPeer(lambda data, src, now: [], t1=0.02)
        await peer.start()
        request = Base(peer.local, far, {"1001": Handset("1001", "example.test")}).subscribe("1001")
        peer.send(Outgoing(request.data, far, request=True))
        await peer.wait_until(lambda: len(peer.observations) >= 4)  # the original and three retransmissions
        loop = asyncio.get_running_loop()
        data, addr = await loop.sock_recvfrom(silent, 65535)
        reply = data.replace(b"SUBSCRIBE sip:1001@example.test SIP/2.0", b"SIP/2.0 200 OK", 1)
        silent.sendto(reply, addr)
        await peer.wait_until(lambda: any(o.data.startswith(b"SIP/2.0 200") for o in peer.observations))
        times = [o.time for o in peer.observations if o.data.startswith(b"SUBSCRIBE")]
        stopped = peer.idle
        peer.close()
        silent.close()
        return times, stopped

    times, stopped = asyncio.run(asyncio.wait_for(run(), 20))
    assert stopped, "a final response must end the retransmissions"
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 3 and all(g > 0 for g in gaps) and gaps[2] > gaps[0]  # doubling, not a fixed period


def test_timer_f_ends_an_unanswered_request_at_64_t1_not_at_the_next_timer_e() -> None:
    """RFC 3261 17.1.2.2: Timer F fires 64*T1 after the first copy. With T1 = 20 ms that is 1.28 s; waiting
    for the next Timer E instead would end it at 2.54 s (the peer's transaction would outlive the rules' T_final)."""
    import socket

    from peers.sansio.outgoing import Outgoing

    t1 = 0.02

    async def run() -> tuple[float, int]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            far = Endpoint(*silent.getsockname())
            peer = UdpPeer(lambda data, src, now: [], t1=t1)
            await peer.start()
            request = Base(peer.local, far, {"1001": Handset("1001", "example.test")}).subscribe("1001")
            loop = asyncio.get_running_loop()
            start = loop.time()
            peer.send(Outgoing(request.data, far, request=True))
            await peer.wait_until(lambda: peer.idle, timeout=64 * t1 + 0.6)  # TimeoutError if Timer F is late
            took, copies = loop.time() - start, len(peer.observations)
            peer.close()
            return took, copies

    took, copies = asyncio.run(asyncio.wait_for(run(), 20))
    # the original and Timer E's copies (six when every timer fires on time; a busy machine fires them late)
    assert took >= 64 * t1 - 0.01 and 4 <= copies <= 7


@needs_sipp
@pytest.mark.skipif(not can_sniff(), reason="capturing needs root or CAP_NET_RAW")
def test_sipp_phone_against_fks_as(tmp_path: Path) -> None:
    """An independent peer (SIPp playing the handset) against ``fks as``; the wire capture is audited."""

    from analyzer.audit import audit_file, worst_by_rule

    proc = subprocess.Popen(
        [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        server = Endpoint(*re.search(r"udp ([\d.]+):(\d+)", read_until(proc, "listening")[0]).groups())  # type: ignore[union-attr]
        sipp_port = free_port()
        recorder = Recorder([int(server.port), sipp_port])
        recorder.start()
        run = subprocess.run(
            sipp_command("phone.xml", sipp_port, f"{server.host}:{server.port}", timeout="20s"),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert recorder.wait_for(12)  # 3 SUBSCRIBE, 3 x 200, 3 NOTIFY, 3 x 200
        recorder.stop()
        audit = audit_file(recorder.write(tmp_path / "sipp.pcapng"), AuditSettings())
        verdicts = worst_by_rule(audit)
        for rule in (
            "FKS-SUB-1",
            "FKS-RSP-1",
            "FKS-NTF-1",
            "FKS-NTF-2",
            "FKS-NTF-6",
            "FKS-HS-1",
            "FKS-HS-3",
            "FKS-TRM-1",
            "FKS-SIP-1",
        ):
            assert verdicts[rule] == "pass", (rule, audit)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_portal_change_reaches_the_handset(tmp_path: Path) -> None:
    """A PUT on the Xsi-style portal of ``fks as`` becomes an unsolicited NOTIFY the rules accept (FKS-AS-1)."""
    import urllib.error
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0", "--portal", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = read_until(proc, "portal on")
        host, port = re.search(r"udp ([\d.]+):(\d+)", lines[0]).groups()  # type: ignore[union-attr]
        url = re.search(r"(http://\S+)", lines[1]).group(1)  # type: ignore[union-attr]
        service = f"{url}/com.broadsoft.xsi-actions/v2.0/user/1001/services/CallForwardingNoAnswer"

        def call(method: str, body: bytes = b"") -> tuple[int, bytes]:
            request = urllib.request.Request(service, data=body or None, method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        async def run() -> UdpPeer:
            base = Base(Endpoint("127.0.0.1", 0), Endpoint(host, int(port)), {"1001": Handset("1001", "example.test")})
            peer = UdpPeer(lambda data, src, now: base.receive(data, src, now))
            base.local = await peer.start()
            hs = base.handsets["1001"]
            try:
                peer.send(base.subscribe("1001"))
                await peer.wait_until(lambda: hs.screen.notified >= 1)
                # The scenario's gap between subscribing and the portal change, longer than the T_notify the
                # capture is judged with: FKS-AS-1 calls a NOTIFY unsolicited only outside that window.
                await asyncio.sleep(0.3)
                body = (
                    b'<CallForwardingNoAnswer xmlns="http://schema.broadsoft.com/xsi"><active>true</active>'
                    b"<forwardToPhoneNumber>1002</forwardToPhoneNumber><numberOfRings>3</numberOfRings>"
                    b"</CallForwardingNoAnswer>"
                )
                assert (await asyncio.to_thread(call, "PUT", body))[0] == 200
                await peer.wait_until(lambda: hs.screen.view.forwards["CFNA"].active)
                assert hs.screen.view.forwards["CFNA"].target == "1002" and hs.screen.view.forwards["CFNA"].rings == 3
                status, xml = await asyncio.to_thread(call, "GET")
                assert status == 200 and b"<numberOfRings>3</numberOfRings>" in xml
                assert (await asyncio.to_thread(call, "PUT", b"<x><active>maybe</active></x>"))[0] == 400
                assert (await asyncio.to_thread(call, "PUT", b'<!DOCTYPE x [<!ENTITY e "x">]><x/>'))[0] == 400
            finally:
                peer.close()
            return peer

        peer = asyncio.run(asyncio.wait_for(run(), 30))
        judgement, _ = judge(peer.observations, AuditSettings(Options(notify_timeout=0.2)))
        as_1 = [r for r in judgement.results() if r.rule == "FKS-AS-1"]
        assert as_1 and as_1[0].verdict is Verdict.PASS and "CFNA -> 1002 after 3 rings" in as_1[0].detail
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_impairer_is_deterministic_from_its_seed() -> None:
    from peers.io.impair import Impairer, Impairment

    spec = Impairment(loss=0.3, duplicate=0.2, reorder=0.2, jitter=0.05, seed=11)
    first, second = Impairer(spec), Impairer(spec)
    runs = [[first.decide() for _ in range(200)], [second.decide() for _ in range(200)]]
    assert runs[0] == runs[1]
    assert 40 <= first.dropped <= 80 and first.duplicated > 10  # ~30 % loss, some duplicates
    assert Impairer(Impairment(seed=1)).decide() == [0.0]


@pytest.mark.parametrize("seed", [3, 8])
def test_conversation_survives_loss_duplicates_and_reordering(seed: int) -> None:
    """30 % loss, duplicates, reordering and jitter: retransmissions carry every flow through, no false fail."""
    from peers.io.impair import Impairment, UdpRelay
    from peers.sansio.broadworks import ApplicationServer

    async def run() -> UdpPeer:
        server = ApplicationServer(Endpoint("127.0.0.1", 0))
        as_peer = UdpPeer(server.receive, t1=0.05)
        server.local = await as_peer.start()
        relay = UdpRelay(server.local, Impairment(loss=0.3, duplicate=0.1, reorder=0.1, jitter=0.02, seed=seed))
        via = await relay.start()
        base = Base(Endpoint("127.0.0.1", 0), via, {"1001": Handset("1001", "example.test")})
        base_peer = UdpPeer(lambda data, src, now: base.receive(data, src, now), t1=0.05)
        base.local = await base_peer.start()
        hs = base.handsets["1001"]
        try:
            # each step waits until the base's transactions are complete: under loss a 200 can trail the NOTIFY
            base_peer.send(base.subscribe("1001"))
            await base_peer.wait_until(lambda: hs.screen.notified >= 1 and base_peer.idle, timeout=10)
            base_peer.send(base.set_dnd("1001", True))
            await base_peer.wait_until(lambda: hs.screen.view.dnd and base_peer.idle, timeout=10)
            base_peer.send(base.unsubscribe("1001"))
            await base_peer.wait_until(lambda: hs.dialog.ended and base_peer.idle, timeout=10)
            await base_peer.wait_until(lambda: any(b"terminated" in o.data for o in base_peer.observations), timeout=10)
            assert relay.impairer.dropped > 0
        finally:
            base_peer.close()
            as_peer.close()
            relay.close()
        return base_peer

    peer = asyncio.run(asyncio.wait_for(run(), 60))
    judgement, _ = judge(peer.observations, AuditSettings())
    fired = {r.rule: r for r in judgement.results() if r.verdict is not Verdict.NOT_APPLICABLE}
    false_fails = {rule: r.detail for rule, r in fired.items() if r.verdict is Verdict.FAIL}
    assert not false_fails
    assert fired["FKS-HS-3"].verdict is Verdict.PASS and fired["FKS-RSP-1"].verdict is Verdict.PASS


@pytest.mark.skipif(not can_sniff(), reason="crafting and capturing packets needs root or CAP_NET_RAW")
def test_scapy_transport_fragments_the_notify_and_everyone_copes(tmp_path: Path) -> None:
    """The AS sends through scapy with 400-byte IP fragments: the base's kernel reassembles, tshark too."""
    from analyzer.audit import audit_file, worst_by_rule
    from peers.craft.packets import WirePlan
    from peers.io.rawudp import ScapyUdpPeer

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")

    async def run() -> tuple[UdpPeer, Recorder]:
        as_peer, base, base_peer, recorder = await recorded_pair(
            lambda receive: ScapyUdpPeer(receive, plan=WirePlan("NOTIFY", mtu=420, ttl=3))
        )
        hs = base.handsets["1001"]
        try:
            base_peer.send(base.subscribe("1001"))
            await base_peer.wait_until(lambda: hs.screen.notified >= 1)
            await as_peer.wait_until(lambda: as_peer.observations[-1].data.startswith(b"SIP/2.0 200"))
        finally:
            base_peer.close()
            as_peer.close()
        from scapy.layers.inet import IP, UDP, fragment
        from scapy.packet import Raw

        notify = next(o.data for o in base_peer.observations if o.data.startswith(b"NOTIFY"))
        pieces = len(fragment(IP(dst="127.0.0.1") / UDP() / Raw(notify), 400))
        assert await asyncio.to_thread(recorder.wait_for, 3 + pieces)  # SUBSCRIBE, 200, 200 + the fragments
        recorder.stop()
        return base_peer, recorder

    base_peer, recorder = asyncio.run(asyncio.wait_for(run(), 30))
    notify = next(o for o in base_peer.observations if o.data.startswith(b"NOTIFY"))
    assert len(notify.data) > 1200  # the multipart NOTIFY: it had to be fragmented
    fragments = [p for p in recorder.packets if p.haslayer("IP") and (p["IP"].flags.MF or p["IP"].frag)]
    assert len(fragments) >= 3 and all(p["IP"].ttl == 3 for p in fragments)
    audit = audit_file(recorder.write(tmp_path / "fragments.pcapng"), AuditSettings())
    assert audit["sip_messages"] == 4 and worst_by_rule(audit)["FKS-NTF-2"] == "pass"


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "peers.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _stop(proc: subprocess.Popen[str], interrupt: bool = True) -> tuple[int, str]:
    """End the process (SIGINT, unless it was already sent); its exit status and stderr."""
    if interrupt and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode, proc.stderr.read() if proc.stderr else ""


def test_fks_base_registers_and_subscribes_over_tcp_against_fks_as(tmp_path: Path) -> None:
    """Both commands as processes over TCP, digest SHA-256: REGISTER, SUBSCRIBE, NOTIFY, clean unsubscribe."""
    from tests.test_rules import provisioning

    users = tmp_path / "users.json"
    users.write_text(json.dumps({"1001": {"password": "pw-1001", "dnd": True}, "1002": {"password": "pw-1002"}}))
    as_proc = _start(
        "as", "--listen", "127.0.0.1:0", "--users", str(users), "--transport", "tcp", "--digest", "SHA-256"
    )
    base = None
    try:
        server = re.search(r"listening on tcp ([\d.]+:\d+)", read_until(as_proc, "listening")[0]).group(1)  # type: ignore[union-attr]
        prov = tmp_path / "n870.xml"
        prov.write_bytes(
            provisioning(("00001", "1001", "1"), ("00002", "1002", "0"))
            .replace(
                b'value="1001"/>', b'value="1001"/><param name="SipAccount.00001.AuthPassword" value="pw-1001"/>', 1
            )
            .replace(
                b'value="1002"/>', b'value="1002"/><param name="SipAccount.00002.AuthPassword" value="pw-1002"/>', 1
            )
        )
        base = _start("base", "--as", server, "--provisioning", str(prov), "--model", "N870", "--transport", "tcp")
        assert "2 account(s), 1 handset(s) with feature sync" in read_until(base, "fks base:")[0]
        seen = read_until(as_proc, r"<- .* 200 OK \(NOTIFY\)")
        assert sum("REGISTER [100" in line for line in seen) >= 4  # two accounts, each challenged and retried
        assert any("SUBSCRIBE [1001]" in line for line in seen) and not any("SUBSCRIBE [1002]" in line for line in seen)
        base.send_signal(signal.SIGINT)
        read_until(as_proc, r"<- .* 200 OK \(NOTIFY\)")  # the terminating NOTIFY, answered
        code, err = _stop(base, interrupt=False)
        assert code == 0 and "Traceback" not in err and _LINES[base.pid].rest()[-1] == "fks base: stopped"
    finally:
        if base is not None:
            _stop(base)
        code, err = _stop(as_proc)
    assert code == 0 and "Traceback" not in err


@needs_sipp
def test_sipp_as_server_against_fks_base(tmp_path: Path) -> None:
    """An independent AS (SIPp, tests/sipp/as.xml) against ``fks base``: SIPp must finish its scenario."""
    from tests.test_rules import provisioning

    port = free_port()
    sipp = subprocess.Popen(
        sipp_command("as.xml", port, "-trace_err"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    prov = tmp_path / "n870.xml"
    prov.write_bytes(provisioning(("00001", "1001", "1")))
    base = _start("base", "--as", f"127.0.0.1:{port}", "--provisioning", str(prov), "--model", "N870", "--no-register")
    try:
        read_until(base, r"<- .* NOTIFY")  # the initial NOTIFY arrived from SIPp
        read_until(base, r"-> .* 200 OK \(NOTIFY\)")
        base.send_signal(signal.SIGINT)  # fks base unsubscribes on the way out
        out, err = sipp.communicate(timeout=40)
        assert sipp.returncode == 0, out[-2000:] + err[-2000:]
        code, base_err = _stop(base, interrupt=False)
        lines = _LINES[base.pid].rest()
        assert code == 0 and "Traceback" not in base_err and lines[-1] == "fks base: stopped"
        assert any("terminated" in line or "NOTIFY" in line for line in lines)
    finally:
        _stop(base)
        if sipp.poll() is None:
            sipp.kill()


async def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether ``predicate`` comes to hold within ``timeout`` (re-checked every 10 ms): a bounded wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _ended(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the AS closes this connection (EOF, or a reset of a refused one) within ``timeout``."""
    try:
        return await asyncio.wait_for(reader.read(100), timeout) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_tcp_as_survives_half_open_and_trickling_connections() -> None:
    """A handset is served while connections that never finish a message (half-open, slowloris) hold the AS's
    slots; a flood beyond the cap is refused at once; the trickling ones are closed after the idle timeout."""
    from peers.io.transport import TcpPeer
    from peers.sansio.broadworks import ApplicationServer

    cap, idle = 20, 2.0

    async def run() -> dict[str, object]:
        server = ApplicationServer(Endpoint("127.0.0.1", 0))
        as_peer = TcpPeer(server.receive, idle_timeout=idle, max_connections=cap)
        server.local = await as_peer.start()
        base = Base(Endpoint("127.0.0.1", 0), server.local, {"1001": Handset("1001", "example.test")}, transport="TCP")
        base_peer = TcpPeer(lambda data, src, now: base.receive(data, src, now))
        base.local = await base_peer.start()
        held, flood = [], []
        out: dict[str, object] = {}
        try:
            for _ in range(cap - 1):  # every slot but one, taken by connections that never finish a message
                reader, writer = await asyncio.open_connection(server.local.host, server.local.port)
                writer.write(b"SUBSCRIBE sip:x@y SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4")
                held.append((reader, writer))
            out["held by the AS"] = await _until(lambda: len(as_peer._connections) == cap - 1, 5)
            base_peer.send(base.subscribe("1001"))
            hs = base.handsets["1001"]
            # served while the trickling connections are open: well before their idle timeout runs out
            out["served"] = await _until(lambda: hs.screen.notified >= 1, idle / 2)
            out["open while served"] = sum(not reader.at_eof() for reader, _ in held)
            for _ in range(cap + 1):  # the flood: every slot is taken (19 trickling + the handset's)
                reader, writer = await asyncio.open_connection(server.local.host, server.local.port)
                writer.write(b"SUBSCRIBE sip:x@y SIP/2.0\r\n")
                flood.append((reader, writer))
            out["refused at once"] = sum(await asyncio.gather(*(_ended(r, idle / 2) for r, _ in flood)))
            out["open after the flood"] = sum(not reader.at_eof() for reader, _ in held)
            out["closed when idle"] = sum(await asyncio.gather(*(_ended(r, idle + 3) for r, _ in held)))
        finally:
            for _, writer in held + flood:
                writer.close()
            base_peer.close()
            as_peer.close()
        return out

    out = asyncio.run(asyncio.wait_for(run(), 30))
    assert out == {
        "held by the AS": True,
        "served": True,
        "open while served": 19,
        "refused at once": 21,
        "open after the flood": 19,
        "closed when idle": 19,
    }


def test_a_record_keeps_its_own_fragments_and_drops_other_datagrams_fragments(tmp_path: Path) -> None:
    """Every IP fragment passes the capture filter (only the first carries the ports); the record keeps the
    fragments of datagrams whose first fragment is on its ports, in whatever order they came, and drops the
    rest (another test's fragmented NOTIFY on the same loopback)."""
    from scapy.layers.inet import IP, UDP, fragment
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import rdpcap

    recorder = Recorder([5060])
    ours = fragment(IP(src="127.0.0.1", dst="127.0.0.1", id=7) / UDP(sport=5060, dport=5070) / Raw(b"N" * 3000), 1200)
    theirs = fragment(
        IP(src="127.0.0.1", dst="127.0.0.1", id=8) / UDP(sport=41000, dport=42000) / Raw(b"x" * 3000), 1200
    )
    for frag in [*reversed(ours), *theirs]:
        pkt = Ether() / IP(bytes(frag))  # dissected as the sniffer on lo does: the first fragment shows its UDP
        assert recorder._wanted(pkt)
        recorder._keep(pkt)
    kept = rdpcap(str(recorder.write(tmp_path / "r.pcapng")))
    assert len(ours) == 3 and [p[IP].id for p in kept] == [7, 7, 7]
