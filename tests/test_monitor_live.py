"""``fks monitor`` on a live network, every part real: Kamailio (Debian's 5.6, module ``siptrace``) as a
stateless proxy between ``fks base`` and ``fks as`` mirrors every SIP message it receives over HEPv3 to one
monitor, a second monitor captures the same traffic from ``lo`` with ``-i``, and dumpcap records it for
``fks audit``. The three must give the same verdicts; ``/metrics`` must show them. A second test sends HEP
from this process (UDP, TCP, malformed packets) to check the receiver without Kamailio.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from analyzer.audit import audit_file, expected_settings
from analyzer.observation import Observation
from analyzer.sources import FieldsReader
from peers.craft import kamailio
from peers.craft.hep import hep3

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
PROVISIONING = CAPTURES / "conforming_broadworks.provisioning.xml"
JUDGING = ["--provisioning", str(PROVISIONING), "--model", "N870", "--internal-telephony", "off"]
WAIT = 20.0  # seconds any one step may take on a busy machine

needs_tshark = pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap (tshark) is not installed")
needs_kamailio = pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed")


class Process:
    """A child process whose output lines are read by threads, so a test waits for a line with a timeout."""

    def __init__(self, argv: list[str], cwd: Path | None = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"{self.argv[0]}: no line matching {pattern!r}; saw: {self.seen[-15:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.argv[0]} did not stop on signal {sig}") from None


def fks(*args: str) -> list[str]:
    return [sys.executable, "-m", "peers.cli", *args]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics over HTTP, parsed by prometheus_client: (sample name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_metric(url: str, name: str, at_least: float) -> dict:
    deadline = time.monotonic() + WAIT
    while True:
        metrics = scrape(url)
        if metrics.get((name, ()), 0) >= at_least or time.monotonic() > deadline:
            return metrics
        time.sleep(0.2)  # polling a condition (bounded by WAIT), not standing in for one


def captured(pcap: Path) -> int:
    run = subprocess.run(["capinfos", "-c", "-M", str(pcap)], capture_output=True, text=True, timeout=WAIT)
    found = re.search(r"Number of packets:\s+(\d+)", run.stdout)
    return int(found.group(1)) if found else 0


def wait_captured(pcap: Path, count: float) -> None:
    deadline = time.monotonic() + WAIT
    while captured(pcap) < count and time.monotonic() < deadline:
        time.sleep(0.2)  # polling a condition (bounded by WAIT), not standing in for one


def verdict_map(records: list[dict]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per Call-ID, rule -> verdict; and the capture-scope rule -> verdict."""
    subs = {r["call_id"]: {v["rule"]: v["verdict"] for v in r["verdicts"]} for r in records if "call_id" in r}
    capture = {v["rule"]: v["verdict"] for r in records if r.get("scope") == "capture" for v in r["verdicts"]}
    return subs, capture


def monitor_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def metric_verdicts(metrics: dict) -> dict[tuple[str, str], float]:
    out = {}
    for (name, labels), value in metrics.items():
        if name == "fks_monitor_verdicts_total" and value:
            found = dict(labels)
            out[(found["rule"], found["verdict"])] = value
    return out


def counted(records: list[dict]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for r in records:
        for v in r["verdicts"]:
            out[(v["rule"], v["verdict"])] = out.get((v["rule"], v["verdict"]), 0) + 1
    return out


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[list[Process]]:
    """The processes a test starts, stopped (by PID) whatever happens."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@needs_kamailio
@needs_tshark
def test_kamailio_siptrace_to_the_monitor_agrees_with_the_audit_of_a_capture(
    tmp_path: Path, lab: list[Process]
) -> None:
    hep_out, iface_out, pcap = tmp_path / "hep.jsonl", tmp_path / "iface.jsonl", tmp_path / "proxy.pcapng"
    monitor = Process(
        fks("monitor", "--hep", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--output", str(hep_out), "--linger", "60")
        + JUDGING
    )
    lab.append(monitor)
    hep_port = int(monitor.wait_for(r"HEP on udp\+tcp 127\.0\.0\.1:(\d+)").group(1))
    metrics_url = monitor.wait_for(r"metrics on (http://\S+)").group(1)
    server = Process(fks("as", "--listen", "127.0.0.1:0"))
    lab.append(server)
    as_port = int(server.wait_for(r"listening on udp [\d.]+:(\d+)").group(1))
    proxy = free_udp_port()
    base_port = free_udp_port()
    leg = f"udp port {proxy} and udp port {base_port}"  # the base's leg, as siptrace mirrors it
    recorder = Process(["dumpcap", "-i", "lo", "-f", leg, "-w", str(pcap)])
    lab.append(recorder)
    recorder.wait_for(r"Capturing on")
    watcher = Process(fks("monitor", "-i", "lo", "--filter", leg, "--output", str(iface_out), *JUDGING))
    lab.append(watcher)
    watcher.wait_for(r"capturing on lo")
    config = tmp_path / "kamailio.cfg"
    config.write_text(kamailio.proxy_config(proxy, hep_port, as_port))
    proxy_process = Process(kamailio.command(str(config), str(tmp_path)))
    lab.append(proxy_process)
    proxy_process.wait_for(kamailio.READY)  # its UDP socket is bound: datagrams wait there
    base = Process(
        fks(
            "base",
            "--as",
            f"127.0.0.1:{proxy}",
            "--listen",
            f"127.0.0.1:{base_port}",
            "--model",
            "N870",
            "--provisioning",
            str(PROVISIONING),
        )
    )
    lab.append(base)
    base.wait_for(r"<- 127\.0\.0\.1:\d+ NOTIFY \[1001\]")
    assert base.stop(signal.SIGINT) == 0  # it unsubscribes on the way out
    assert any("SUBSCRIBE [1001]" in line for line in base.seen)

    mirrored = scrape(metrics_url)[("fks_monitor_hep_packets_total", ())]
    wait_captured(pcap, mirrored)  # dumpcap writes in blocks: stopping it at once could lose the last ones
    assert recorder.stop(signal.SIGINT) == 0
    sip_messages = sum(1 for _ in FieldsReader(pcap))
    assert sip_messages >= 10  # REGISTERs, SUBSCRIBEs, NOTIFYs and their answers, each through the proxy
    wait_metric(metrics_url, "fks_monitor_messages_total", sip_messages)
    assert proxy_process.stop() == 0
    assert watcher.stop() == 0
    monitor.proc.send_signal(signal.SIGTERM)
    monitor.wait_for(r"stopped after (\d+) message")
    metrics = scrape(metrics_url)
    assert monitor.stop() == 0  # the second signal ends the linger
    server.stop(signal.SIGINT)

    audited = Process(fks("audit", str(pcap), "--format", "json", "--output", str(tmp_path / "audit.json"), *JUDGING))
    assert audited.proc.wait(timeout=120) in (0, 1)
    audit = json.loads((tmp_path / "audit.json").read_text())["captures"][0]
    expected = verdict_map([*audit["subscriptions"], {"scope": "capture", "verdicts": audit["verdicts"]}])
    assert len(expected[0]) == 1 and expected[1]

    # CONFORMANCE: a conforming AS and base through a transparent proxy: nothing fails or warns; the
    # subscription is granted, notified and terminated, and the enabled account subscribes after REGISTER.
    (only,) = expected[0].values()
    assert not {"fail", "warn"} & {*only.values(), *expected[1].values()}
    assert {only[r] for r in ("FKS-SUB-1", "FKS-RSP-1", "FKS-NTF-1", "FKS-TRM-1")} == {"pass"}
    assert expected[1]["FKS-PRV-2"] == "pass"
    hep_records = monitor_records(hep_out)
    assert verdict_map(hep_records) == expected
    assert verdict_map(monitor_records(iface_out)) == expected
    assert metrics[("fks_monitor_messages_total", ())] == sip_messages
    assert metrics[("fks_monitor_hep_packets_total", ())] == sip_messages
    assert metrics[("fks_monitor_hep_malformed_total", ())] == 0
    assert metrics[("fks_monitor_subscriptions_settled_total", ())] == 1
    assert metric_verdicts(metrics) == counted(hep_records)


@needs_tshark
def test_hep_over_udp_and_tcp_with_malformed_packets_between(tmp_path: Path, lab: list[Process]) -> None:
    """A reference capture's messages, moved to the present, sent as HEPv3: the first half over UDP, the rest
    over one TCP connection, with damaged packets among them. The verdicts are the audit's of the file."""
    capture = CAPTURES / "conforming_broadworks.pcap"
    spec = json.loads((CAPTURES / "conforming_broadworks.expected.json").read_text())
    audit = audit_file(capture, expected_settings(spec, CAPTURES))
    observations = list(FieldsReader(capture))
    shift = time.time() - observations[0].time
    moved = [Observation(o.index, o.time + shift, o.src, o.dst, o.transport, o.data) for o in observations]
    out = tmp_path / "hep.jsonl"
    monitor = Process(
        fks("monitor", "--hep", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--output", str(out), "--linger", "60")
        + JUDGING
    )
    lab.append(monitor)
    port = int(monitor.wait_for(r"HEP on udp\+tcp 127\.0\.0\.1:(\d+)").group(1))
    url = monitor.wait_for(r"metrics on (http://\S+)").group(1)
    half = len(moved) // 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for n, obs in enumerate(moved[:half]):
            udp.sendto(hep3(obs), ("127.0.0.1", port))
            if n == 1:
                udp.sendto(b"HEP3\x00\x09junk", ("127.0.0.1", port))
        wait_metric(url, "fks_monitor_hep_packets_total", half)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as tcp:
        stream = b"".join(hep3(obs) for obs in moved[half:])
        tcp.sendall(b"noise" + stream)  # bytes that are no HEP before the first packet
        wait_metric(url, "fks_monitor_hep_packets_total", len(moved))
    monitor.proc.send_signal(signal.SIGTERM)
    monitor.wait_for(r"stopped after (\d+) message")
    metrics = scrape(url)
    assert monitor.stop() == 0
    assert any("malformed HEP from udp" in line for line in monitor.seen)
    assert metrics[("fks_monitor_hep_malformed_total", ())] == 2  # the bad datagram, the noise before the stream
    assert metrics[("fks_monitor_messages_total", ())] == len(moved)
    records = monitor_records(out)
    expected = verdict_map([*audit["subscriptions"], {"scope": "capture", "verdicts": audit["verdicts"]}])
    assert verdict_map(records) == expected
    assert metric_verdicts(metrics) == counted(records)


@needs_tshark
def test_an_interface_that_does_not_exist_is_one_line_and_status_2() -> None:
    run = subprocess.run(fks("monitor", "-i", "fks-no-such-if", "--duration", "30"), capture_output=True, text=True)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("fks: error: dumpcap") and "fks-no-such-if" in last
    assert "Traceback" not in run.stderr
