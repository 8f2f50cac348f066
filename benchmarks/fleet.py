"""Audit speed on a Dask cluster of 1 and then 2 workers, against the audit in one process, one run each.

    .venv/bin/python benchmarks/fleet.py [--captures 20] [--capture-messages 10k] [--large 1m] [--workers 1,2]

``fks synth`` writes ``--captures`` site captures of about ``--capture-messages`` SIP messages each (the
fleet: one task per capture) and one of about ``--large`` messages (cut into slices, its messages shuffled by
subscriber). For each worker count a ``dask scheduler`` and that many ``dask worker`` processes (one thread
each) start on 127.0.0.1, and ``fks audit --scheduler`` audits the fleet, then the large capture; the audit
in one process (``--jobs 1``) runs first as the reference. Every report must equal the reference (apart from
``summary.engine``): the script fails otherwise. Printed: one ``key=value`` line per run, then the speed-ups
(wall time of the first worker count over each other's).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DASK = str(Path(PYTHON).with_name("dask"))


def size(text: str) -> int:
    text = text.lower()
    return int(float(text[:-1]) * (1000 if text.endswith("k") else 1_000_000)) if text[-1] in "km" else int(text)


def synth(path: Path, messages: int, seed: int) -> int:
    made = subprocess.run(
        [PYTHON, "-m", "peers.cli", "synth", "--messages", str(messages), "--seed", str(seed), "--output", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return int(made.split(" SIP messages")[0].rsplit(" ", 1)[-1])


def proc_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and of their children they have waited for (tshark, capinfos)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def audit(paths: list[Path], out: Path, *options: str, pids: list[int] | None = None) -> tuple[float, float, dict]:
    """Wall seconds and CPU seconds (the command's, its children's and the cluster's) of one ``fks audit``,
    and its report without ``summary.engine``."""
    cpu = children_cpu() + proc_cpu(pids or [])
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "analyzer.cli", "audit", *map(str, paths), *options, "--format", "json", "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=7200,
    )
    wall = time.perf_counter() - start
    cpu = children_cpu() + proc_cpu(pids or []) - cpu
    if done.returncode not in (0, 1):
        raise SystemExit(f"fks audit failed ({done.returncode}): {done.stderr.strip()}")
    doc = json.loads(out.read_text())
    engine = doc["summary"].pop("engine")
    return wall, cpu, {"engine": engine, "report": doc}


class Cluster:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes on 127.0.0.1 (stopped by ``close``)."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.file = folder / f"scheduler-{workers}.json"
        log = subprocess.DEVNULL
        scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        self.procs = [subprocess.Popen([*scheduler, "--scheduler-file", str(self.file)], stdout=log, stderr=log)]
        worker = [
            DASK,
            "worker",
            "--scheduler-file",
            str(self.file),
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
        ]
        self.procs += [subprocess.Popen(worker, cwd=folder, stdout=log, stderr=log) for _ in range(workers)]
        from distributed import Client

        client = Client(scheduler_file=str(self.file), timeout=60, set_as_default=False)
        client.wait_for_workers(workers, timeout=120)
        self.address = client.scheduler.address
        client.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=20, help="captures of the fleet")
    parser.add_argument("--capture-messages", default="10k", help="SIP messages per fleet capture (about)")
    parser.add_argument("--large", default="1m", help="SIP messages of the large capture (about); 0: none")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"machine cpus={os.cpu_count()} python={sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fks-fleet-bench-") as tmp:
        folder = Path(tmp)
        fleet = [folder / f"site-{i}.pcap" for i in range(args.captures)]
        sip = sum(synth(p, size(args.capture_messages), seed=i) for i, p in enumerate(fleet))
        mb = sum(p.stat().st_size for p in fleet) / 1e6
        print(f"work=fleet captures={len(fleet)} sip_messages={sip} file_mb={mb:.0f}", flush=True)
        works = {"fleet": fleet}
        if size(args.large):
            large = folder / "large.pcap"
            sip = synth(large, size(args.large), seed=99)
            print(f"work=large captures=1 sip_messages={sip} file_mb={large.stat().st_size / 1e6:.0f}", flush=True)
            works["large"] = [large]
        walls: dict[tuple[str, int], float] = {}
        reference = {}
        for name, paths in works.items():
            wall, cpu, got = audit(paths, folder / "local.json", "--jobs", "1")
            reference[name] = got["report"]
            print(f"work={name} engine=in-process wall_s={wall:.1f} cpu_s={cpu:.1f}", flush=True)
        for workers in counts:
            cluster = Cluster(folder, workers)
            try:
                for name, paths in works.items():
                    pids = [p.pid for p in cluster.procs]
                    wall, cpu, got = audit(paths, folder / "dask.json", "--scheduler", cluster.address, pids=pids)
                    same = got["report"] == reference[name]
                    seen = got["engine"]["workers"]
                    line = (
                        f"work={name} engine=dask workers={seen} wall_s={wall:.1f} cpu_s={cpu:.1f} same_report={same}"
                    )
                    print(line, flush=True)
                    if not same or seen != workers:
                        raise SystemExit(f"{name} on {workers} worker(s): the report differs from the reference")
                    walls[(name, workers)] = wall
            finally:
                cluster.close()
        for name in works:
            base = walls[(name, counts[0])]
            ups = " ".join(f"speedup_{counts[0]}_to_{n}={base / walls[(name, n)]:.2f}" for n in counts[1:])
            print(f"work={name} {ups}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
