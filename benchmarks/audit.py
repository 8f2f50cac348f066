"""Audit speed against the tools a user would otherwise reach for, on the same synthesized capture, one run.

    .venv/bin/python benchmarks/audit.py [--shape site|dense|both] [--sizes 10k,100k,1m] [--pyshark-limit N]

Two shapes of capture (``fks synth --shape``): ``site``, feature sync among calls, RTP, keep-alives and other
packages (about 70 % of its SIP is skipped unparsed), and ``dense``, where every message is feature sync
(SUBSCRIBE / 200 / multipart NOTIFY / 200 over UDP, no RTP). For each shape and size, ``fks synth`` writes a
capture of about that many SIP messages, then the readers run on it, one after the other, each as its own
process: ``tshark -Y sip -T fields`` printing nine SIP fields and ``udp.payload`` (the baseline: dissection
and the bytes, nothing else), plain pyshark iterating the SIP packets (``FileCapture(display_filter="sip")``,
site shape only, ``--pyshark-limit 0`` skips it), and ``fks audit --format json`` (dissection, dialogs,
every rule, the report). Printed per tool: wall time, CPU seconds, SIP messages per second, and the peak RSS
of its largest process (``wait4``'s ``ru_maxrss``: the tool or the largest of the tshark processes it ran
and waited for); then the ratios, wall and CPU, and at the end one line per shape and size with both. Plain
pyshark is stopped after ``--pyshark-limit`` packets and its rate extrapolated (marked ``extrapolated``).
The output format is stable: one ``key=value`` line per measurement.
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


BASELINE_FIELDS = (
    "sip.Method",
    "sip.Status-Code",
    "sip.Call-ID",
    "sip.CSeq",
    "sip.from.tag",
    "sip.to.tag",
    "sip.Via.branch",
    "sip.Event",
    "sip.Subscription-State",
    "udp.payload",
)


def measure(command: list[str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB) of the process or the largest child it waited for, its stdout, and the CPU
    seconds of it and its children (the machine may be shared: CPU time says what wall time cannot)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def size(text: str) -> int:
    text = text.lower()
    return int(float(text[:-1]) * (1000 if text.endswith("k") else 1_000_000)) if text[-1] in "km" else int(text)


def run(shape: str, label: str, messages: int, folder: Path, pyshark_limit: int) -> tuple[float, float, float]:
    """One shape and size: the tools' lines; returns fks's wall and CPU ratios to the baseline and its RSS."""
    pcap = folder / f"synth-{shape}-{label}.pcap"
    made = subprocess.run(
        [PYTHON, "-m", "peers.cli", "synth", "--shape", shape, "--messages", str(messages), "--output", str(pcap)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    sip = int(made.split(" SIP messages")[0].rsplit(" ", 1)[-1])
    packets = int(made.split(" packets")[0].rsplit(" ", 1)[-1])
    print(
        f"shape={shape} size={label} sip_messages={sip} packets={packets} file_mb={pcap.stat().st_size / 1e6:.0f}",
        flush=True,
    )
    fields = [arg for name in BASELINE_FIELDS for arg in ("-e", name)]
    results = {}
    wall, rss, _, cpu = measure(["tshark", "-r", str(pcap), "-n", "-Y", "sip", "-T", "fields", *fields])
    results["tshark-fields"] = (wall, cpu, sip / wall, rss, "")
    if pyshark_limit and shape == "site":
        limit = pyshark_limit if sip > pyshark_limit else 0
        wall, rss, out, cpu = measure([PYTHON, "-c", PLAIN_PYSHARK, str(pcap), str(limit)], stdout=None)
        read = int(out.strip() or 0)
        rate = read / wall if wall else 0.0
        scale = sip / read if limit and read else 1.0
        results["pyshark"] = (wall * scale, cpu * scale, rate, rss, " extrapolated" if limit else "")
    wall, rss, _, cpu = measure(
        [PYTHON, "-m", "analyzer.cli", "audit", str(pcap), "--format", "json", "--output", str(folder / "audit.json")]
    )
    results["fks-audit"] = (wall, cpu, sip / wall, rss, "")
    for tool, (wall, cpu, rate, rss, note) in results.items():
        print(
            f"  tool={tool} wall_s={wall:.2f} cpu_s={cpu:.2f} msgs_per_s={rate:.0f} peak_rss_mb={rss:.0f}{note}",
            flush=True,
        )
    fks, tshark = results["fks-audit"], results["tshark-fields"]
    ratios = (fks[0] / tshark[0], fks[1] / tshark[1], fks[3])
    line = f"  ratio fks_over_tshark={ratios[0]:.2f} cpu_fks_over_tshark={ratios[1]:.2f}"
    if "pyshark" in results:
        line += f" pyshark_over_fks={results['pyshark'][0] / fks[0]:.1f}"
    print(line, flush=True)
    pcap.unlink()
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["site", "dense", "both"], default="both", help="capture shape(s)")
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated sizes in SIP messages (e.g. 10k,100k,1m)")
    parser.add_argument(
        "--pyshark-limit", type=int, default=100_000, help="stop plain pyshark after so many packets (0: skip it)"
    )
    args = parser.parse_args()
    print(f"machine cpus={os.cpu_count()} python={sys.version.split()[0]} load1={os.getloadavg()[0]:.1f}", flush=True)
    shapes = ["site", "dense"] if args.shape == "both" else [args.shape]
    summary = []
    with tempfile.TemporaryDirectory(prefix="fks-bench-") as tmp:
        for label in (text.strip() for text in args.sizes.split(",")):
            for shape in shapes:
                summary.append((shape, label, run(shape, label, size(label), Path(tmp), args.pyshark_limit)))
    for shape, label, (ratio, cpu_ratio, rss) in summary:
        print(
            f"summary shape={shape} size={label} fks_over_tshark={ratio:.2f} cpu_fks_over_tshark={cpu_ratio:.2f} "
            f"fks_peak_rss_mb={rss:.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
