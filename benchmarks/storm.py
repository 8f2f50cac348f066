"""The AS emulator under a re-subscription storm: driven by ``fks base --storm`` and by SIPp, same flow.

    .venv/bin/python benchmarks/storm.py [--accounts 6000] [--rates 500,1000,2000]

For each rate (and each ``--workers`` value: ``fks as --workers N``, N processes behind one port), ``fks as``
is started as its own process, then one client runs the storm against it (each
account: SUBSCRIBE, 200, initial NOTIFY, 200): SIPp (``tests/sipp/storm.xml``, ``-r RATE -m ACCOUNTS``) or
the base emulator (``fks base --storm ACCOUNTS --rate RATE``, which then refreshes once). Printed per run:
subscriptions per second achieved, failed ones, p50/p99 SUBSCRIBE -> initial NOTIFY (SIPp: from its
``-trace_rtt`` file), and the AS process's CPU seconds and peak RSS. One ``key=value`` line per run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def start_as(workers: int, log: Path) -> tuple[subprocess.Popen[str], str]:
    """``fks as`` with its log lines going to a file, as a long-running AS's do (a pipe drained by another
    process would add that process's CPU to the storm's two cores)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "peers.cli", "as", "--listen", "127.0.0.1:0", "--workers", str(workers)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"udp ([\d.]+:\d+)", log.read_text())
        if found:
            return proc, found.group(1)
        time.sleep(0.05)  # polling the file for the start-up line, bounded by the deadline
    proc.kill()
    raise SystemExit(f"fks as did not start: {log.read_text()[-500:]}")


def usage(pid: int) -> tuple[float, float]:
    """CPU seconds so far of a process and its children (fks as --workers: the shares), and the largest peak
    RSS (MB) among them, from /proc."""
    pids = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    cpu, peak = 0.0, 0.0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        cpu += (int(fields[11]) + int(fields[12])) / TICK
        status = Path(f"/proc/{each}/status").read_text().splitlines()
        hwm = next(line for line in status if line.startswith("VmHWM"))
        peak = max(peak, int(hwm.split()[1]) / 1024)
    return cpu, peak


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def with_sipp(address: str, accounts: int, rate: int, folder: Path, sockets: str = "u1") -> str:
    start = time.perf_counter()
    run = subprocess.run(
        [
            "sipp",
            "-sf",
            str(ROOT / "tests" / "sipp" / "storm.xml"),
            "-r",
            str(rate),
            "-m",
            str(accounts),
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-nostdin",
            "-t",
            sockets,
            "-max_socket",
            str(min(accounts + 100, 60000)),
            "-buff_size",
            str(4 * 1024 * 1024),  # SIPp's default socket buffers overflow at 5,000/s: its losses, not the AS's
            "-timeout",
            "120s",
            "-trace_stat",
            "-trace_rtt",
            "-rtt_freq",
            "1",
            address,
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    wall = time.perf_counter() - start
    stat = next(folder.glob("storm_*_.csv"), None) or next(folder.glob("storm_*.csv"))
    head, last = stat.read_text().splitlines()[0].split(";"), stat.read_text().splitlines()[-1].split(";")
    row = dict(zip(head, last, strict=False))
    ok, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
    rtts = []
    for rtt in folder.glob("storm_*_rtt.csv"):
        for line in rtt.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2:
                rtts.append(float(parts[1]))
    for f in folder.glob("storm_*"):
        f.unlink()
    return (
        f"achieved_per_s={ok / wall:.0f} ok={ok} failed={failed} p50_ms={percentile(rtts, 0.5):.1f} "
        f"p99_ms={percentile(rtts, 0.99):.1f} sipp_exit={run.returncode}"
    )


def with_base(address: str, accounts: int, rate: int) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "peers.cli", "base", "--as", address, "--storm", str(accounts), "--rate", str(rate)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    line = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "storm failed"
    keep = ("achieved_per_s", "notified", "failed", "p50_ms", "p99_ms", "refreshed")
    return " ".join(f for f in line.split() if f.split("=")[0] in keep)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=6000)
    parser.add_argument("--rates", default="500,1000,2000")
    parser.add_argument("--clients", default="sipp,fks-base", help="which clients drive the AS, in order")
    parser.add_argument(
        "--workers",
        default="2",
        help="fks as --workers values to run, e.g. 1,2 (default 2: a storm's AS on a 2-core machine; one process "
        "saturates near 5,000/s here)",
    )
    parser.add_argument(
        "--sipp-sockets",
        choices=["u1", "un"],
        default="u1",
        help="SIPp's -t: u1 one socket for every account (one base), un one socket per account (many bases)",
    )
    args = parser.parse_args()
    clients = [c for c in args.clients.split(",") if c != "sipp" or shutil.which("sipp")]
    if unknown := set(clients) - {"sipp", "fks-base"}:
        parser.error(f"unknown client(s) {', '.join(sorted(unknown))}: sipp, fks-base")
    sys.path.insert(0, str(ROOT))
    from peers.io import loops

    print(f"machine cpus={os.cpu_count()} python={sys.version.split()[0]} loop={loops.name()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fks-storm-") as tmp:
        for rate, workers, client in (
            (int(r), int(w), c) for r in args.rates.split(",") for w in args.workers.split(",") for c in clients
        ):
            proc, address = start_as(workers, Path(tmp) / f"as-{rate}-{workers}-{client}.log")
            try:
                if client == "sipp":
                    result = with_sipp(address, args.accounts, rate, Path(tmp), args.sipp_sockets)
                else:
                    result = with_base(address, args.accounts, rate)
                cpu, rss = usage(proc.pid)
            finally:
                stop(proc)
            print(
                f"client={client} workers={workers} sockets={args.sipp_sockets if client == 'sipp' else '-'} "
                f"accounts={args.accounts} rate={rate} {result} "
                f"as_cpu_s={cpu:.1f} as_peak_rss_mb={rss:.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
