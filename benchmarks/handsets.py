"""250 handsets of one base subscribe at once against the AS emulator (UDP and TCP, loopback).

Prints, per transport: time until every handset had its initial NOTIFY, and the p50/p99 latency from each
SUBSCRIBE (the first one sent) to that handset's initial NOTIFY, taken from the base's message log.
Usage: ``python benchmarks/handsets.py [--handsets 250]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from analyzer.sip import SipError, parse_message
from peers.sansio.gigaset import Handset
from peers.targets.lab import Lab, LabConfig
from peers.targets.labs import LoopbackLab


def latencies(lab: Lab) -> list[float]:
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    for obs in lab.observations:
        try:
            msg = parse_message(obs.data)
        except SipError:
            continue
        if msg.method == "SUBSCRIBE":
            sent.setdefault(msg.call_id or "", obs.time)
        elif msg.method == "NOTIFY":
            got.setdefault(msg.call_id or "", obs.time)
    return sorted(got[c] - sent[c] for c in got if c in sent)


def run(transport: str, count: int) -> str:
    users = [str(2000 + i) for i in range(count)]
    config = LabConfig(transport=transport, handsets=[Handset(u, "example.test") for u in users], record=False)
    with LoopbackLab(config) as lab:
        start = time.perf_counter()
        lab.subscribe_all(users, timeout=60)
        total = time.perf_counter() - start
        lat = latencies(lab)
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000
    return f"{transport:4} handsets={count} all_notified_s={total:.3f} p50_ms={p50:.1f} p99_ms={p99:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handsets", type=int, default=250)
    args = parser.parse_args()
    for transport in ("udp", "tcp"):
        print(run(transport, args.handsets), flush=True)


if __name__ == "__main__":
    main()
