"""Audit speed against the tools a user would otherwise reach for, on the same synthesized capture, one run.

    .venv/bin/python benchmarks/audit.py [--sizes 10k,100k,1m] [--pyshark-limit 100000]

For each size, ``fks synth`` writes a capture of about that many SIP messages (feature sync mixed with calls,
RTP, keep-alives and other packages), then three readers run on it, one after the other, each as its own
process: ``tshark -T fields`` extracting the SIP fields (the floor: dissection and nothing else), plain
pyshark iterating the SIP packets (``FileCapture(display_filter="sip")``), and ``fks audit`` (dissection,
dialogs, every rule). Printed per tool: wall time, SIP messages per second, peak RSS; then the ratios. Plain
pyshark is stopped after ``--pyshark-limit`` packets on large captures and its rate extrapolated (marked
``extrapolated``). The output format is stable: one ``key=value`` line per measurement.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PLAIN_PYSHARK = """
import sys, pyshark
limit = int(sys.argv[2])
n = 0
cap = pyshark.FileCapture(sys.argv[1], display_filter="sip", keep_packets=False)
for _ in cap:
    n += 1
    if limit and n >= limit:
        break
cap.close()
print(n)
"""


def measure(command: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the process and its children, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, out


def size(text: str) -> int:
    text = text.lower()
    return int(float(text[:-1]) * (1000 if text.endswith("k") else 1_000_000)) if text[-1] in "km" else int(text)


def run(label: str, messages: int, folder: Path, pyshark_limit: int) -> None:
    pcap = folder / f"synth-{label}.pcap"
    made = subprocess.run(
        [PYTHON, "-m", "peers.cli", "synth", "--messages", str(messages), "--output", str(pcap)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    sip = int(made.split(" SIP messages")[0].rsplit(" ", 1)[-1])
    packets = int(made.split(" packets")[0].rsplit(" ", 1)[-1])
    print(f"size={label} sip_messages={sip} packets={packets} file_mb={pcap.stat().st_size / 1e6:.0f}", flush=True)
    fields = ["-e", "frame.number", "-e", "sip.Call-ID", "-e", "sip.CSeq", "-e", "sip.Method", "-e", "sip.Status-Code"]
    results = {}
    wall, rss, _ = measure(["tshark", "-r", str(pcap), "-n", "-Y", "sip", "-T", "fields", *fields])
    results["tshark-fields"] = (wall, sip / wall, rss, "")
    limit = pyshark_limit if sip > pyshark_limit else 0
    wall, rss, out = measure([PYTHON, "-c", PLAIN_PYSHARK, str(pcap), str(limit)], stdout=None)
    read = int(out.strip() or 0)
    rate = read / wall if wall else 0.0
    results["pyshark"] = (sip / rate if limit and rate else wall, rate, rss, " extrapolated" if limit else "")
    wall, rss, _ = measure(
        [PYTHON, "-m", "analyzer.cli", "audit", str(pcap), "--format", "json", "--output", str(folder / "audit.json")]
    )
    results["fks-audit"] = (wall, sip / wall, rss, "")
    for tool, (wall, rate, rss, note) in results.items():
        print(f"  tool={tool} wall_s={wall:.2f} msgs_per_s={rate:.0f} peak_rss_mb={rss:.0f}{note}", flush=True)
    fks, tshark, plain = results["fks-audit"][0], results["tshark-fields"][0], results["pyshark"][0]
    print(f"  ratio fks_over_tshark={fks / tshark:.2f} pyshark_over_fks={plain / fks:.1f}", flush=True)
    pcap.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated sizes in SIP messages (e.g. 10k,100k,1m)")
    parser.add_argument("--pyshark-limit", type=int, default=100_000, help="stop plain pyshark after so many packets")
    args = parser.parse_args()
    print(f"machine cpus={os.cpu_count()} python={sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fks-bench-") as tmp:
        for label in args.sizes.split(","):
            run(label.strip(), size(label.strip()), Path(tmp), args.pyshark_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
