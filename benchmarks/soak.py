"""Soak: 250 handset accounts with short expiries against ``fks as`` for minutes, memory watched.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--accounts 250] [--expires 10]

``fks as`` runs as its own process; one base emulator holds the accounts, subscribes them all, and refreshes
each at 80 % of its grant (with 10 s that is every 8 s) until the time is up, then unsubscribes them. Every
minute it prints: refreshes sent, refreshes answered by a NOTIFY, subscriptions lost (a refresh with no
grant), NOTIFYs the base left unanswered, and the AS's RSS. Bounded by ``--minutes``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from analyzer.observation import Endpoint
from peers.io.transport import UdpPeer
from peers.sansio.gigaset import Base, Handset

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


async def soak(server: Endpoint, pid: int, minutes: float, accounts: int, expires: int) -> int:
    handsets = {str(500000 + i): Handset(str(500000 + i), "example.test") for i in range(accounts)}
    base = Base(Endpoint("127.0.0.1", 0), server, handsets, expires=expires, track_view=False)
    answered = {"notify_in": 0, "ok_out": 0}

    def handler(data: bytes, src: Endpoint, now: float) -> list:
        out = base.receive(data, src, now)
        if data.startswith(b"NOTIFY"):
            answered["notify_in"] += 1
            answered["ok_out"] += sum(1 for o in out if o.data.startswith(b"SIP/2.0 200"))
        return out

    peer = UdpPeer(handler, keep_log=False)
    base.local = await peer.start()
    for user in handsets:
        peer.send(base.subscribe(user))
    start = time.monotonic()
    end = start + minutes * 60
    next_report = start + 60
    first_rss = rss_mb(pid)
    refreshes = 0
    while time.monotonic() < end:
        due = base.due(time.time())
        refreshes += len(due)
        peer.send(due)
        await asyncio.sleep(0.2)  # the refresh timer's tick
        if time.monotonic() >= next_report:
            next_report += 60
            notified = sum(h.screen.notified for h in handsets.values())
            lost = sum(1 for h in handsets.values() if h.dialog.refresh_at is None and not h.dialog.ended)
            unanswered = answered["notify_in"] - answered["ok_out"]
            print(
                f"minute={round((time.monotonic() - start) / 60)} refreshes={refreshes} notifies={notified} "
                f"lost={lost} unanswered_notifies={unanswered} as_rss_mb={rss_mb(pid):.1f}",
                flush=True,
            )
    for user, hs in handsets.items():
        if hs.dialog.remote_tag:
            peer.send(base.unsubscribe(user))
    await asyncio.sleep(2)
    peer.close()
    lost = sum(1 for h in handsets.values() if not h.dialog.ended)
    growth = rss_mb(pid) - first_rss
    print(
        f"soak minutes={minutes:g} accounts={accounts} expires={expires} refreshes={refreshes} "
        f"lost={lost} unanswered_notifies={answered['notify_in'] - answered['ok_out']} "
        f"as_rss_growth_mb={growth:.1f}",
        flush=True,
    )
    return 0 if lost == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=250)
    parser.add_argument("--expires", type=int, default=10)
    args = parser.parse_args()
    proc = subprocess.Popen(
        [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0", "--max-expires", str(args.expires)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    host, port = re.search(r"udp ([\d.]+):(\d+)", proc.stdout.readline()).groups()  # type: ignore[union-attr]
    subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    try:
        return asyncio.run(soak(Endpoint(host, int(port)), proc.pid, args.minutes, args.accounts, args.expires))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
