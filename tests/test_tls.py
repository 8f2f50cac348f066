"""SIP over TLS end to end: ``fks as`` / ``fks base --transport tls`` as processes, SIPp behind stunnel as the
independent peer on either side, captures audited with a key log or with the secrets they carry, and bad input
on the TLS port (wrong certificate, plain TCP, a handshake that stalls) costing one log line and one connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.audit import audit_file, worst_by_rule
from analyzer.judging import AuditSettings
from analyzer.observation import Endpoint
from analyzer.provisioning import build_provisioning
from analyzer.sip.peek import peek_cseq_method
from analyzer.sources import FieldsReader
from analyzer.sources.slices import holds_secrets
from peers.io.certs import make_certificates
from peers.io.recorder import Recorder, can_sniff, embed_secrets
from peers.io.tls import TlsOptions, TlsPeer, client_context, tls_peer
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.gigaset import Base, Handset
from tests.test_live import _LINES, _start, _stop, read_until
from tests.tls_peers import decode_as, free_port, sipp, start_as, stunnel

TSHARK = shutil.which("tshark") is not None
STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel")
needs_capture = pytest.mark.skipif(not (TSHARK and can_sniff()), reason="needs tshark and a capture of loopback")
needs_sipp = pytest.mark.skipif(
    not (shutil.which("sipp") and STUNNEL), reason="needs SIPp (sip-tester) and stunnel4 (Debian packages)"
)
CONFORMING = ("FKS-SUB-1", "FKS-RSP-1", "FKS-NTF-1", "FKS-NTF-2", "FKS-NTF-6", "FKS-HS-1", "FKS-HS-3", "FKS-TRM-1")


def summaries(lines: list[str]) -> list[str]:
    """What an ``fks`` log line says of its message: the start line's gist, without time and address."""
    return [m.group(1) for line in lines if (m := re.search(r" (?:<-|->) \S+ (.*)$", line))]


@needs_sipp
@needs_capture
def test_sipp_phone_behind_stunnel_against_fks_as_over_tls(tmp_path: Path) -> None:
    """The Done-when of SIP over TLS: SIPp (through stunnel, checking the AS's certificate) subscribes, changes
    DND and unsubscribes; every NOTIFY comes back on the phone's own connection; the capture, audited with the
    AS's --keylog, gives one subscription and no fail."""
    certs = make_certificates(tmp_path)
    keys = tmp_path / "keys.txt"
    proc, server = start_as("--cert", str(certs.cert), "--key", str(certs.key), "--keylog", str(keys))
    recorder = Recorder([server.port], tcp=True)
    recorder.start()
    front = free_port()
    tunnel = stunnel(
        tmp_path,
        "phone",
        front,
        server.port,
        client="yes",
        CAfile=str(certs.ca),
        verifyChain="yes",
        checkIP="127.0.0.1",
    )
    try:
        run = subprocess.run(
            sipp("phone.xml", free_port(), tmp_path, f"127.0.0.1:{front}"),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        lines = [line for _ in range(3) for line in read_until(proc, r"<- .* 200 OK \(NOTIFY\)", 10)]
        assert len(summaries(lines)) == 12, lines
        peers = {line.split()[2] for line in lines}
        assert len(peers) == 1, lines  # every NOTIFY on the phone's own connection (stunnel's end of it)
        tunnel.terminate()  # the connection ends: once its FIN is captured, so is all it carried
        assert recorder.wait_for(12, 10.0, payload=True, closed=True)
    finally:
        recorder.stop()
        if tunnel.poll() is None:
            tunnel.kill()
        tunnel.wait()
        code, err = _stop(proc)
    assert code == 0 and "Traceback" not in err, err
    pcap = recorder.write(tmp_path / "sipp-tls.pcapng")
    settings = AuditSettings(decode_as=decode_as(server.port), keylog=str(keys))
    audit = audit_file(pcap, settings)
    assert audit["errors"] == [] and audit["sip_messages"] == 12 and len(audit["subscriptions"]) == 1, audit
    worst = worst_by_rule(audit)
    assert "fail" not in worst.values(), worst
    for rule in CONFORMING:
        assert worst[rule] == "pass", (rule, worst[rule])
    without = audit_file(pcap, AuditSettings(decode_as=decode_as(server.port)))
    assert without["sip_messages"] == 0  # without the keys nothing is read: the SIP really was encrypted


@needs_sipp
def test_fks_base_over_tls_against_sipp_as_behind_stunnel(tmp_path: Path) -> None:
    """SIPp plays the AS behind stunnel (which holds the AS's certificate); ``fks base --transport tls --ca``
    checks it, subscribes, answers the NOTIFYs and unsubscribes on the way out: both exit 0."""
    from tests.test_rules import provisioning

    certs = make_certificates(tmp_path)
    sipp_port, front = free_port(), free_port()
    as_sipp = subprocess.Popen(
        sipp("as.xml", sipp_port, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    tunnel = stunnel(tmp_path, "as", front, sipp_port, cert=str(certs.cert), key=str(certs.key))
    prov = tmp_path / "n870.xml"
    prov.write_bytes(provisioning(("00001", "1001", "1")))
    base = _start(
        "base", "--as", f"127.0.0.1:{front}", "--provisioning", str(prov), "--model", "N870", "--no-register",
        "--transport", "tls", "--ca", str(certs.ca),
    )  # fmt: skip
    try:
        read_until(base, r"<- .* NOTIFY")  # the initial NOTIFY arrived from SIPp, over the TLS connection
        read_until(base, r"-> .* 200 OK \(NOTIFY\)")
        base.send_signal(signal.SIGINT)
        out, err = as_sipp.communicate(timeout=40)
        assert as_sipp.returncode == 0, out[-2000:] + err[-2000:]
        code, base_err = _stop(base, interrupt=False)
        lines = _LINES[base.pid].rest()
        assert code == 0 and "Traceback" not in base_err and lines[-1] == "fks base: stopped", base_err
        assert summaries(lines)[-1].startswith("200 OK (NOTIFY)")  # the terminating NOTIFY, answered
    finally:
        _stop(base)
        tunnel.kill()
        tunnel.wait()
        if as_sipp.poll() is None:
            as_sipp.kill()


@needs_capture
def test_fks_base_against_fks_as_over_tls_capture_carries_its_secrets(tmp_path: Path) -> None:
    """Both commands over mutual TLS; the capture, with the base's key log embedded, audits without --keylog,
    holds every message the AS logged, in the same order, and judges the subscription conforming."""
    from tests.test_rules import provisioning

    certs = make_certificates(tmp_path)
    keys = tmp_path / "keys.txt"
    tls = ("--cert", str(certs.cert), "--key", str(certs.key), "--ca", str(certs.ca))
    proc, server = start_as(*tls)
    recorder = Recorder([server.port], tcp=True)
    recorder.start()
    prov = tmp_path / "n870.xml"
    prov.write_bytes(provisioning(("00001", "1001", "1")))
    base = _start(
        "base", "--as", str(server), "--provisioning", str(prov), "--model", "N870", "--transport", "tls",
        *tls, "--keylog", str(keys),
    )  # fmt: skip
    seen: list[str] = []
    try:
        seen += read_until(proc, r"<- .* 200 OK \(NOTIFY\)")
        base.send_signal(signal.SIGINT)
        seen += read_until(proc, r"<- .* 200 OK \(NOTIFY\)")  # the terminating NOTIFY, answered
        code, err = _stop(base, interrupt=False)
        assert code == 0 and "Traceback" not in err, err
        assert recorder.wait_for(0, 5.0, closed=True)  # the base hung up: all its connection carried is captured
    finally:
        _stop(base)
        recorder.stop()
        code, err = _stop(proc)
    assert code == 0 and "Traceback" not in err, err
    logged = summaries(seen + _LINES[proc.pid].rest())
    pcap = embed_secrets(recorder.write(tmp_path / "fks-tls.pcapng"), keys)
    assert holds_secrets(pcap.read_bytes())
    audit = audit_file(pcap, AuditSettings(decode_as=decode_as(server.port)))
    assert audit["errors"] == [] and audit["sip_messages"] == len(logged), (audit["sip_messages"], logged)
    wire = [start_line(o.data) for o in FieldsReader(pcap, decode_as=decode_as(server.port))]
    assert wire == [re.sub(r" \[\w+\]$", "", line) for line in logged]  # the same messages, in the same order
    assert len(audit["subscriptions"]) == 1
    worst = worst_by_rule(audit)
    assert "fail" not in worst.values() and worst["FKS-TRM-1"] == "pass", worst


def start_line(data: bytes) -> str:
    """A message as an ``fks`` log line names it: the method, or the status with its CSeq method."""
    first = data.split(b"\r\n", 1)[0].decode("latin-1")
    if first.startswith("SIP/2.0 "):
        return f"{first[8:]} ({peek_cseq_method(data)})"
    return first.split(" ", 1)[0]


def test_fks_base_checks_the_as_certificate_unless_insecure(tmp_path: Path) -> None:
    """``fks base`` refuses an AS whose certificate its --ca does not vouch for (one line each side, no
    subscription); with --insecure it goes ahead and says in its log that nothing is checked."""
    from tests.test_rules import provisioning

    certs, other = make_certificates(tmp_path, prefix="as-"), make_certificates(tmp_path, prefix="other-")
    proc, server = start_as("--cert", str(certs.cert), "--key", str(certs.key))
    prov = tmp_path / "n870.xml"
    prov.write_bytes(provisioning(("00001", "1001", "1")))
    common = ("base", "--as", str(server), "--provisioning", str(prov), "--model", "N870", "--transport", "tls")
    wary = subprocess.Popen(  # its log lines and its warnings in one stream, read as they come
        [sys.executable, "-m", "peers.cli", *common, "--ca", str(other.ca), "--no-register"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    trusting = None
    try:
        failed = read_until(wary, r"cannot connect")[-1]
        assert "TLS handshake failed: unable to get local issuer certificate" in failed, failed
        assert _stop(wary)[0] == 0 and "Traceback" not in "".join(_LINES[wary.pid].rest())
        trusting = _start(*common, "--insecure", "--no-register")
        assert "--insecure: the AS's certificate is NOT checked" in read_until(trusting, "NOT checked")[-1]
        read_until(proc, r"<- .* 200 OK \(NOTIFY\)")  # subscribed, notified, answered
    finally:
        _stop(wary)
        if trusting is not None:
            _stop(trusting)
        code, err = _stop(proc)
    refused = [line for line in err.splitlines() if "TLS handshake failed" in line]
    assert code == 0 and len(refused) == 1, err  # the AS's side of the refused handshake: one line


def test_tls_usage_errors_are_one_line(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    cases = [
        (["as", "--transport", "tls"], "--transport tls needs --cert"),
        (["as", "--cert", str(certs.cert)], "only with --transport tls"),
        (["base", "--as", "127.0.0.1:5061", "--provisioning", "x", "--insecure"], "only with --transport tls"),
        (["as", "--listen", "127.0.0.1:0", "--transport", "tls", "--cert", str(tmp_path / "none.pem")], "cannot load"),
        (["as", "--listen", "127.0.0.1:0", "--transport", "tls", "--cert", str(certs.ca)], "cannot load"),  # no key
    ]
    for args, wanted in cases:
        proc = _start(*args)
        _, err = proc.communicate(timeout=30)
        lines = err.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and wanted in lines[0], (args, err)


def test_bad_tls_clients_cost_one_line_and_their_connection(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """A client with a certificate of another CA, a plain-TCP SIP client on the TLS port and one that stalls in
    the handshake: each is one log line and a closed connection (the stalled one after the handshake timeout),
    while a good handset is served in the middle of them."""
    good, other = make_certificates(tmp_path, prefix="good-"), make_certificates(tmp_path, prefix="other-")
    caplog.set_level(logging.WARNING, logger="peers.io.tls")

    async def run() -> tuple[list[bool], int]:
        server = ApplicationServer(Endpoint("127.0.0.1", 0), transport="TLS")
        mine = TlsOptions(str(good.cert), str(good.key), str(good.ca), handshake_timeout=0.5)
        as_peer = tls_peer(server.receive, mine)
        server.local = await as_peer.start()
        where = (server.local.host, server.local.port)
        stalled = await asyncio.open_connection(*where)  # connects, never says a word
        plain = await asyncio.open_connection(*where)
        plain[1].write(b"SUBSCRIBE sip:1001@example.test SIP/2.0\r\nContent-Length: 0\r\n\r\n")
        strange = TlsOptions(str(other.cert), str(other.key), str(good.ca))  # trusts the AS, shows a foreign cert
        wrong = await _tls_open(where, client_context(strange))
        # a good handset while the stalled handshake is still pending
        base = Base(Endpoint("127.0.0.1", 0), server.local, {"1001": Handset("1001", "example.test")}, transport="TLS")
        base_peer = TlsPeer(
            lambda data, src, now: base.receive(data, src, now),
            client_ssl=client_context(TlsOptions(str(good.cert), str(good.key), str(good.ca))),
        )
        base.local = await base_peer.start()
        base_peer.wake_with(as_peer)
        base_peer.send(base.subscribe("1001"))
        await base_peer.wait_until(lambda: base.handsets["1001"].screen.notified >= 1, 5.0)
        served = len(base_peer.observations)
        ended = [await _ended(stalled[0]), await _ended(plain[0]), wrong]
        for conn in (stalled, plain):
            conn[1].close()
        base_peer.close()
        as_peer.close()
        return ended, served

    ended, served = asyncio.run(asyncio.wait_for(run(), 30))
    assert ended == [True, True, True] and served >= 3  # SUBSCRIBE, 200, NOTIFY (and our 200)
    lines = [r.getMessage() for r in caplog.records if r.name == "peers.io.tls"]
    assert len(lines) == 3 and all("TLS handshake failed" in line for line in lines), lines
    assert sum("longer than" in line or "aborting" in line for line in lines) == 1, lines  # the stalled one


async def _tls_open(where: tuple[str, int], context: ssl.SSLContext) -> bool:
    """Whether a TLS client is turned away: its handshake fails, or its connection ends at once after it."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*where, ssl=context, server_hostname=where[0]), 5.0
        )
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        return await _ended(reader)
    finally:
        writer.close()


async def _ended(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """Whether the AS closes this connection (EOF or reset) within ``timeout``."""
    try:
        return await asyncio.wait_for(reader.read(100), timeout) == b""
    except (ConnectionError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def test_the_documented_flows_run_over_tls(tmp_path: Path) -> None:
    """The loopback suite's documented-behaviour scenarios over TLS (--fks-transport tls), each with its log
    and its capture judged alike. Outline examples that only vary the data are run once: the transport is what
    this run is about."""
    import json
    import os
    import sys

    areas = "subscription or notify or portal or fac or handset or termination"
    again = "portal_switches_feature_state and (CFA or CFB or CFNA)"  # DND-on is the portal flow over TLS
    command = [sys.executable, "-m", "pytest", "steps", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    # two workers: the scenarios mostly wait (a portal change keeps T_notify of quiet first), not compute
    command += ["-n", "2", "--fks-transport", "tls", "-m", areas, "-k", f"not ({again})"]
    command += ["--fks-reports", str(tmp_path / "reports"), "--junitxml", str(tmp_path / "tls.xml")]
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "tls.xml").getroot().find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 30 and counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
    captures = list((tmp_path / "reports" / "captures").glob("*.pcapng"))
    assert len(captures) >= 30, json.dumps([p.name for p in captures])
    if can_sniff():  # a capture of the wire: TLS that carries its own secrets (but where a scenario picks UDP or TCP)
        plain = sorted(p.name for p in captures if not holds_secrets(p.read_bytes()))
        assert all(re.search(r"over_transport_(udp|tcp)_", name) for name in plain), plain


def test_a_lab_tls_capture_without_its_secrets_reads_no_sip(tmp_path: Path) -> None:
    """The lab's capture needs the secrets it carries: the same packets without them show TLS, not SIP, and
    the audit says so (TLS 1.3 records on a SIP port, 5060-5099, not decrypted)."""
    if not (TSHARK and can_sniff()) or shutil.which("editcap") is None:
        pytest.skip("needs tshark, editcap and a capture of loopback")  # editcap embeds the secrets
    from peers.targets.lab import LabConfig
    from peers.targets.labs import LoopbackLab

    with LoopbackLab(LabConfig(transport="tls", listen=Endpoint("127.0.0.1", 5097))) as lab:
        lab.subscribe("1001")
        lab.unsubscribe("1001")
        pcap = lab.capture(tmp_path / "lab.pcapng")
        settings = AuditSettings(decode_as=lab.decode_as)
        count = len(lab.observations)
    assert all(o.transport == "tls" for o in lab.observations) and count >= 6
    assert audit_file(pcap, settings)["sip_messages"] == count
    stripped = tmp_path / "stripped.pcapng"
    stripped.write_bytes(without_secrets(pcap.read_bytes()))
    assert not holds_secrets(stripped.read_bytes())
    blind = audit_file(stripped, settings)
    assert blind["sip_messages"] == 0
    assert len(blind["errors"]) == 1 and re.search(
        r"^\d+ TLS records on SIP ports \(5097\) not decrypted", blind["errors"][0]
    )


def without_secrets(data: bytes) -> bytes:
    """A little-endian pcapng without its Decryption Secrets Blocks (editcap 4.0 cannot drop them here)."""
    import struct

    out, offset = [], 0
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from("<II", data, offset)
        if kind != 10:
            out.append(data[offset : offset + length])
        offset += length
    return b"".join(out)


def test_target_as_over_tls_against_fks_as(tmp_path: Path) -> None:
    """The suite's target ``as`` over TLS: our base checks a real AS's certificate against --fks-tls-ca. The
    subscription scenarios pass (or skip with their reason) against ``fks as --transport tls``."""
    from tests.test_targets import counts, skips, suite

    certs = make_certificates(tmp_path)
    proc, server = start_as("--cert", str(certs.cert), "--key", str(certs.key))
    prov = tmp_path / "accounts.xml"
    prov.write_bytes(build_provisioning([("00001", "1001", "1", "pw-1001")]))
    try:
        run = suite(
            "--fks-target=as", f"--fks-as={server}", "--fks-transport=tls", f"--fks-tls-ca={certs.ca}",
            f"--fks-provisioning={prov}", "--fks-notify-timeout=1", f"--fks-reports={tmp_path / 'reports'}",
            "-m", "subscription",
        )  # fmt: skip
    finally:
        _stop(proc)
    got = counts(run)
    assert run.returncode == 0 and "failed" not in got and got.get("passed", 0) >= 3, run.stdout[-3000:]
    assert all(re.match(r"SKIPPED \[\d+\] \S+: \S.{20,}", line) for line in skips(run)), skips(run)
    captures = list((tmp_path / "reports" / "captures").glob("*.pcapng"))
    if can_sniff():
        assert captures and all(holds_secrets(p.read_bytes()) for p in captures if "over_transport" not in p.name)
