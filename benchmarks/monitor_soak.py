"""Soak of ``fks monitor``: 250 handset accounts refreshing through a Kamailio proxy, mirrored to the monitor
over HEPv3, for minutes, the monitor's memory watched.

    .venv/bin/python benchmarks/monitor_soak.py [--minutes 10] [--accounts 250] [--expires 10]

``fks as`` and ``fks monitor --hep`` run as their own processes, Kamailio (``peers.craft.kamailio``: a
stateless proxy, ``siptrace`` mirroring the base's leg) between them and one base emulator holding the
accounts, which subscribe once and refresh at 80 % of each grant (with 10 s, every 8 s) until the time is
up, then unsubscribe. Every minute: refreshes sent, SIP messages the monitor judged, its open subscriptions,
its engine lag and its RSS. At the end: the RSS growth from minute 2 to the last minute (goal: under 5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from analyzer.observation import Endpoint
from peers.craft import kamailio
from peers.io.transport import UdpPeer
from peers.sansio.gigaset import Base, Handset

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def first_match(proc: subprocess.Popen[str], pattern: str, stream: str = "stderr") -> re.Match[str]:
    pipe = getattr(proc, stream)
    for _ in range(50):  # bounded: the line comes among the first few
        line = pipe.readline()
        match = re.search(pattern, line)
        if match:
            return match
    raise SystemExit(f"no line matching {pattern!r}")


def drain(proc: subprocess.Popen[str], stream: str = "stderr") -> None:
    """Keep reading a child's pipe so it never blocks on a full one."""
    subprocess.Popen(["cat"], stdin=getattr(proc, stream), stdout=subprocess.DEVNULL)


async def soak(proxy: Endpoint, monitor: int, url: str, minutes: float, accounts: int, expires: int) -> list[float]:
    handsets = {str(500000 + i): Handset(str(500000 + i), "example.test") for i in range(accounts)}
    base = Base(Endpoint("127.0.0.1", 0), proxy, handsets, expires=expires, track_view=False)
    peer = UdpPeer(lambda data, src, now: base.receive(data, src, now), keep_log=False)
    base.local = await peer.start()
    for user in handsets:
        peer.send(base.subscribe(user))
    start = time.monotonic()
    end, next_report = start + minutes * 60, start + 60
    refreshes, rss = 0, []
    while time.monotonic() < end:
        due = base.due(time.time())
        refreshes += len(due)
        peer.send(due)
        await asyncio.sleep(0.2)  # the refresh timer's tick
        if time.monotonic() >= next_report:
            next_report += 60
            rss.append(rss_mb(monitor))
            print(
                f"minute={len(rss)} refreshes={refreshes} judged={metric(url, 'fks_monitor_messages_total'):.0f} "
                f"open={metric(url, 'fks_monitor_subscriptions_open'):.0f} "
                f"lag_s={metric(url, 'fks_monitor_engine_lag_seconds'):.2f} monitor_rss_mb={rss[-1]:.1f}",
                flush=True,
            )
    for user, hs in handsets.items():
        if hs.dialog.remote_tag:
            peer.send(base.unsubscribe(user))
    await asyncio.sleep(2)
    peer.close()
    return rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=250)
    parser.add_argument("--expires", type=int, default=10)
    args = parser.parse_args()
    fks = [sys.executable, "-m", "peers.cli"]
    with tempfile.TemporaryDirectory() as folder:
        monitor = subprocess.Popen(
            [*fks, "monitor", "--hep", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--output", f"{folder}/m.jsonl"],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        hep = int(first_match(monitor, r":(\d+)$").group(1))
        url = first_match(monitor, r"(http://\S+)").group(1)
        drain(monitor)
        server = subprocess.Popen(
            [*fks, "as", "--listen", "127.0.0.1:0", "--max-expires", str(args.expires)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        as_port = int(first_match(server, r"udp [\d.]+:(\d+)", "stdout").group(1))
        drain(server, "stdout")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            proxy = probe.getsockname()[1]
        config = Path(folder) / "kamailio.cfg"
        config.write_text(kamailio.proxy_config(proxy, hep, as_port, children=2))
        proxy_process = subprocess.Popen(kamailio.command(str(config), folder), stderr=subprocess.PIPE, text=True)
        first_match(proxy_process, kamailio.READY)
        drain(proxy_process)
        try:
            rss = asyncio.run(
                soak(Endpoint("127.0.0.1", proxy), monitor.pid, url, args.minutes, args.accounts, args.expires)
            )
        finally:
            for proc in (proxy_process, server, monitor):
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    if len(rss) >= 3:
        growth = (rss[-1] - rss[1]) / rss[1] * 100
        print(
            f"soak minutes={args.minutes:g} accounts={args.accounts} expires={args.expires} "
            f"rss_minute2_mb={rss[1]:.1f} rss_last_mb={rss[-1]:.1f} growth_pct={growth:.1f}",
            flush=True,
        )
        return 0 if growth < 5 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
