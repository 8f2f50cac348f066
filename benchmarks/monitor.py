"""How many SIP messages per second ``fks monitor`` keeps up with, fed HEPv3 on 127.0.0.1, one run.

    .venv/bin/python benchmarks/monitor.py [--messages 60000] [--rates 2000,4000] [--seconds 15]

``fks synth`` writes a site capture of about ``--messages`` SIP messages (feature sync among calls,
keep-alives and other packages); its messages, moved to the present, are encoded as HEPv3 once. Then
``fks monitor --hep`` runs as its own process and is measured three ways:

- ``tcp``: every message over one TCP connection as fast as the monitor reads (TCP waits for it), timed
  until its ``fks_monitor_messages_total`` reaches the count: the rate it sustains when saturated.
- ``udp`` at each of ``--rates`` for ``--seconds``, paced: HEP packets lost (sent minus received, a monitor
  that falls behind overflows its socket buffer) and the engine lag at the end.

One ``key=value`` line per measurement (a stable format).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from analyzer.observation import Observation
from analyzer.sources import FieldsReader
from peers.craft.hep import hep3
from peers.io import loops

PYTHON = sys.executable
WAIT = 120.0


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def start_monitor() -> tuple[subprocess.Popen[str], int, str]:
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "peers.cli",
            "monitor",
            "--hep",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--output",
            "/dev/null",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    port = int(re.search(r":(\d+)$", proc.stderr.readline().strip()).group(1))  # type: ignore[union-attr]
    url = re.search(r"(http://\S+)", proc.stderr.readline()).group(1)  # type: ignore[union-attr]
    return proc, port, url


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=WAIT)


def wait_count(url: str, name: str, count: float) -> float:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if metric(url, name) >= count:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"{name} did not reach {count} in {WAIT:g} s")


def site(messages: int) -> list[Observation]:
    with tempfile.TemporaryDirectory() as folder:
        pcap = Path(folder) / "site.pcap"
        subprocess.run(
            [PYTHON, "-m", "peers.cli", "synth", "--messages", str(messages), "--rtp", "0", "--output", str(pcap)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return list(FieldsReader(pcap))


def stamped(obs: Observation, when: float) -> bytes:
    return hep3(Observation(obs.index, when, obs.src, obs.dst, obs.transport, obs.data))


def saturated(observations: list[Observation]) -> None:
    shift = time.time() - observations[-1].time  # the whole site's traffic, ending now
    data = [stamped(o, o.time + shift) for o in observations]
    proc, port, url = start_monitor()
    try:
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as tcp:
            tcp.sendall(b"".join(data))
        end = wait_count(url, "fks_monitor_messages_total", len(data))
        rate = len(data) / (end - start)
        print(f"mode=tcp messages={len(data)} seconds={end - start:.2f} rate={rate:.0f}/s loop={loops.name()}")
    finally:
        stop(proc)


def paced(observations: list[Observation], rate: int, seconds: float) -> None:
    """Each message stamped with the time it is sent, as a live agent would: the lag is then meaningful."""
    proc, port, url = start_monitor()
    total = int(rate * seconds)
    lag = float("nan")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            start = time.monotonic()
            for n in range(total):
                due = start + n / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # pacing the sender, not synchronising
                udp.sendto(stamped(observations[n % len(observations)], time.time()), ("127.0.0.1", port))
                if n == total * 9 // 10:  # under load, not after it: the gauge of the steady state
                    lag = metric(url, "fks_monitor_engine_lag_seconds")
        sent_for = time.monotonic() - start
        time.sleep(2.0)  # let the last datagrams drain before counting
        received = metric(url, "fks_monitor_hep_packets_total")
        print(
            f"mode=udp rate={rate}/s seconds={sent_for:.1f} sent={total} received={received:.0f} "
            f"lost={total - received:.0f} lag_s={lag:.2f}"
        )
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60000)
    parser.add_argument("--rates", default="2000,4000")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    observations = site(args.messages)
    print(f"sip_messages={len(observations)} cores={os.cpu_count()}")
    saturated(observations)
    for rate in (int(r) for r in args.rates.split(",") if r):
        paced(observations, rate, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
