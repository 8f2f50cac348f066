"""``fks audit`` on a real Dask cluster: a scheduler and two workers started as separate processes
(``dask scheduler``, ``dask worker``) on 127.0.0.1. Several captures and one capture cut into slices get
the verdicts of the audit in one process; a worker killed during the run changes nothing; an unreachable
scheduler is one line and exit status 2 within 10 s."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analyzer.sources import slices
from peers.craft.synth import SynthOptions, synthesize
from tests.reports import valid_report

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
SLICE_RECORDS = 4000  # the site below (about 11,700 records) is cut in two slices

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None or not DASK.exists(), reason="tshark or dask's command is not installed"
)


class Cluster:
    """A scheduler and its workers, each a process of its own; stopped (killed if need be) at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.file = folder, folder / "scheduler.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", self.file)
        self.address = ""

    def spawn(self, *args: str | Path) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([DASK, *map(str, args)], cwd=self.folder, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def worker(self) -> subprocess.Popen[bytes]:
        """A worker without a nanny: killing this process kills the worker, nothing restarts it."""
        return self.spawn(
            "worker", "--scheduler-file", self.file, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1"
        )

    def client(self) -> Any:
        from distributed import Client

        client = Client(scheduler_file=str(self.file), timeout=30, set_as_default=False)
        self.address = client.scheduler.address
        return client

    def stop(self) -> None:
        """Workers killed (nothing of theirs is needed), then the scheduler asked to stop."""
        for proc in self.procs[1:]:
            proc.kill()
        self.procs[0].terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Four reference captures (one named by a ``file://`` URL, one by a URL that fsspec copies to local disk
    first), a small site (UDP and TCP bases, calls with RTP) cut into two slices, and a file not there."""
    folder = tmp_path_factory.mktemp("site")
    site = folder / "site.pcap"
    synthesize(site, SynthOptions(subscriptions=60, bases=4, seed=3, tcp_share=0.5, duration=600.0))
    plan = slices.plan(site.read_bytes(), SLICE_RECORDS, SLICE_RECORDS // 10)
    assert plan is not None and len(plan) == 2
    names = ("conforming_broadworks", "conforming_tcp", "fac_without_notify", "two_handsets_both_notified")
    found = [p for name in names for p in ROOT.glob(f"captures/{name}.pcap*")]
    assert len(found) == 4, found
    urls = [found[1].as_uri(), "simplecache::" + found[2].as_uri()]
    return [str(found[0]), *urls, str(found[3]), str(site), str(folder / "missing.pcap")]


class Audit:
    """``fks audit ... --format json`` running in the background; ``report`` waits for it."""

    def __init__(self, paths: list[str], out: Path, *options: str | int) -> None:
        self.out = out
        command = [sys.executable, "-m", "analyzer.cli", "audit", *map(str, paths), *map(str, options)]
        command += ["--format", "json", "--output", str(out)]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stderr = ""
        self.engine: dict[str, Any] = {}

    def report(self) -> dict[str, Any]:
        """The report, its ``summary.engine`` taken out (kept in ``engine``)."""
        if self.proc.returncode is None:
            _, self.stderr = self.proc.communicate(timeout=120)
        assert self.proc.returncode in (0, 1, 2), self.stderr
        doc = valid_report(self.out.read_text())
        self.engine = doc["summary"].pop("engine")
        return doc


@pytest.fixture(scope="module")
def reference(captures: list[str], tmp_path_factory: pytest.TempPathFactory) -> Audit:
    """The audit in one process (started first: it runs while the cluster starts)."""
    return Audit(captures, tmp_path_factory.mktemp("local") / "local.json", "--jobs", 1)


@pytest.fixture(scope="module")
def cluster(reference: Audit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Any]]:
    folder = tmp_path_factory.mktemp("dask")
    cluster = Cluster(folder)
    try:
        cluster.worker()
        cluster.worker()
        client = cluster.client()
        client.wait_for_workers(2, timeout=60)
        yield cluster, client
        client.close()
    finally:
        cluster.stop()


def test_captures_and_a_sliced_capture_get_the_verdicts_of_one_process(
    cluster: tuple[Cluster, Any], captures: list[str], reference: Audit, tmp_path: Path
) -> None:
    """Four small captures (each one task), the site in two slices whose messages meet by subscriber, and a
    missing file: the same entries as in one process, the missing one with its one line, exit status 2."""
    scheduler = cluster[0]
    run = Audit(captures, tmp_path / "dask.json", "--scheduler", scheduler.address, "--slice-records", SLICE_RECORDS)
    there, here = run.report(), reference.report()
    assert run.engine == {"kind": "dask", "scheduler": scheduler.address, "workers": 2}
    assert reference.engine == {"kind": "local", "scheduler": None, "workers": 1}
    assert json.dumps(there, sort_keys=True) == json.dumps(here, sort_keys=True)
    assert there["captures"][4]["sip_messages"] > 2000 and len(there["captures"][4]["subscriptions"]) == 60
    assert run.proc.returncode == reference.proc.returncode == 2
    assert run.stderr.splitlines() == [f"fks: {captures[-1]}: no such file"] == reference.stderr.splitlines()


def test_a_worker_killed_during_the_run_changes_no_verdict(
    cluster: tuple[Cluster, Any], captures: list[str], reference: Audit, tmp_path: Path
) -> None:
    """A third worker joins, takes tasks, and is killed (SIGKILL) while it holds them: the scheduler runs them
    again on the other two, and the report is the one-process report. The captures' bytes are sent this
    time (``--send-captures``): those the dead worker held are sent again."""
    scheduler, client = cluster
    before = set(client.scheduler_info(n_workers=-1)["workers"])
    victim = scheduler.worker()
    try:
        client.wait_for_workers(3, timeout=60)
        (address,) = set(client.scheduler_info(n_workers=-1)["workers"]) - before
        options = ("--scheduler", scheduler.address, "--slice-records", SLICE_RECORDS, "--send-captures")
        run = Audit(captures, tmp_path / "dask.json", *options)
        deadline = time.monotonic() + 60
        while not client.processing(workers=[address]).get(address) and run.proc.poll() is None:
            assert time.monotonic() < deadline, "the new worker never got a task"
            time.sleep(0.02)  # polling the scheduler's state, not waiting for it
        busy = client.processing(workers=[address]).get(address)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        there = run.report()
    finally:
        victim.kill()
    deadline = time.monotonic() + 30
    while set(client.scheduler_info(n_workers=-1)["workers"]) != before:  # the other tests count two workers
        assert time.monotonic() < deadline, "the scheduler still lists the killed worker"
        time.sleep(0.02)
    assert busy, "the worker was killed while it held tasks"
    assert run.engine["kind"] == "dask"
    assert json.dumps(there, sort_keys=True) == json.dumps(reference.report(), sort_keys=True)
    assert run.proc.returncode == reference.proc.returncode
    assert run.stderr.splitlines() == [f"fks: {captures[-1]}: no such file"]


def test_an_unreachable_scheduler_is_one_line_and_exit_2_within_10_s() -> None:
    """Nothing listening (connection refused), and a socket that accepts but never answers: one after the
    other, each timed from the command's start to its end."""
    capture = ROOT / "captures" / "conforming_broadworks.pcap"
    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes connections nobody accepts
        for sock in (closed, silent):
            address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
            started = time.monotonic()
            run = subprocess.run(
                [sys.executable, "-m", "analyzer.cli", "audit", str(capture), "--scheduler", address],
                capture_output=True,
                text=True,
                timeout=30,
            )
            elapsed = time.monotonic() - started
            assert run.returncode == 2 and run.stdout == ""
            assert run.stderr.splitlines() == [
                f"fks: error: cannot reach the Dask scheduler at {address}: "
                + (
                    f"Timed out trying to connect to {address} after 2.5 s"
                    if sock is closed
                    else "no Dask handshake within 3 s"
                )
            ]
            assert elapsed < 10, (address, elapsed)


def test_the_embedded_default_starts_a_local_cluster_and_stops_it(captures: list[str], reference: Audit) -> None:
    """Without --scheduler, large work goes to a local cluster of --jobs processes that the command starts
    (scheduler on 127.0.0.1) and stops: the same entries, and no worker process left behind."""
    from analyzer.fleet.cluster import start_local
    from analyzer.fleet.graph import audit_on
    from analyzer.judging import AuditSettings

    engine = start_local(2)
    try:
        where = engine.describe()
        pids = [w.process.pid for w in engine.cluster.workers.values()]
        small = captures[:4] + captures[5:]  # the sliced graph is the same as above
        outcomes = audit_on(engine, small, AuditSettings())
    finally:
        engine.close()
    assert where["kind"] == "local" and where["workers"] == 2 and where["scheduler"].startswith("tcp://127.0.0.1:")
    here = reference.report()["captures"]
    assert json.loads(json.dumps([entry for entry, _ in outcomes], default=list)) == here[:4] + here[5:]
    assert [reason for _, reason in outcomes] == [None] * 4 + ["no such file"]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_url_is_copied_to_local_disk_once_per_audit_and_removed_after() -> None:
    """What fsspec fetches lands in the temporary folder under a name of its audit (two audits at once keep
    their copies apart); a ``file://`` URL is read where it is; the copies go when the audit ends."""
    from analyzer.fleet.tasks import as_source, copy_key, drop_copies, localise

    capture = ROOT / "captures" / "conforming_broadworks.pcap"
    assert localise(as_source(capture.as_uri(), "a")) == capture and copy_key(str(capture)) is None
    first, second = (as_source("simplecache::" + capture.as_uri(), audit) for audit in ("a", "b"))
    copies = [localise(first), localise(second)]
    assert copies[0] != copies[1] and all(c.read_bytes() == capture.read_bytes() for c in copies)
    assert localise(first) == copies[0]  # once per audit
    assert drop_copies([str(copy_key(first))]) == 1
    assert not copies[0].exists() and copies[1].exists()
    drop_copies([str(copy_key(second))])
