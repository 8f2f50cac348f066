"""The wire scenarios (features/wire.feature) beyond loopback: against a real base's stand-in (``fks base`` as
its own process, target ``base``), and without the privilege to craft packets (they skip, saying why)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from peers.io.rawudp import can_send_raw
from tests.test_live import _start, _stop, read_until
from tests.test_targets import counts, free_port, skips, suite, two_accounts  # noqa: F401 (a fixture)

NEEDS_RAW = pytest.mark.skipif(not can_send_raw(), reason="crafting packets needs root or CAP_NET_RAW")


@NEEDS_RAW
def test_wire_scenarios_against_a_separate_fks_base(two_accounts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Our AS sends its crafted packets to ``fks base`` in another process, whose kernel reassembles them."""
    port = free_port()
    menu = tmp_path / "menu"
    os.mkfifo(menu)
    base = _start(
        "base", "--as", f"127.0.0.1:{port}", "--provisioning", str(two_accounts), "--model", "N870",
        "--no-register", "--menu", str(menu),
    )  # fmt: skip
    try:
        read_until(base, "fks base:")
        run = suite(
            "-m",
            "wire",
            "--fks-target=base",
            "--fks-transport=scapy",
            f"--fks-listen=127.0.0.1:{port}",
            f"--fks-operator-cmd=printf '%s\\n' {{action}} > {menu}",
            f"--fks-provisioning={two_accounts}",
            f"--fks-reports={tmp_path}",
        )
    finally:
        base.send_signal(signal.SIGINT)
        _stop(base, interrupt=False)
    assert run.returncode == 0 and counts(run) == {"passed": 16}, run.stdout[-4000:]  # none skipped either


@pytest.mark.skipif(shutil.which("capsh") is None or not can_send_raw(), reason="needs capsh and CAP_NET_RAW to drop")
def test_without_cap_net_raw_the_wire_scenarios_skip_with_the_reason(tmp_path: Path) -> None:
    """The same run with CAP_NET_RAW dropped (as a container without it, or a user without root)."""
    run = subprocess.run(
        ["capsh", "--drop=cap_net_raw", "--", "-c", '"$0" "$@"', *_pytest_cmd(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        env={k: v for k, v in os.environ.items() if k != "CI"},  # as on a laptop (CI=true refuses to run so)
    )
    got = counts(run)
    assert got.get("skipped", 0) == 16 and "passed" not in got and "failed" not in got, run.stdout[-3000:]
    assert all("needs root or CAP_NET_RAW" in line for line in skips(run)), skips(run)


def _pytest_cmd(tmp_path: Path) -> list[str]:
    import sys

    return [
        sys.executable, "-m", "pytest", "steps", "-q", "-rs", "-m", "wire", "-p", "no:cacheprovider",
        "-p", "no:xdist", "-o", "console_output_style=classic", f"--fks-reports={tmp_path}",
    ]  # fmt: skip


def test_transport_scapy_on_target_as_skips_saying_why() -> None:
    """On target as the AS under test sends its own packets: there is nothing of ours to craft."""
    from analyzer.observation import Endpoint
    from peers.targets.scenario import TargetOptions, Unsupported, scenario_for

    world = scenario_for(TargetOptions(name="as", remote=Endpoint("127.0.0.1", 9), transport="scapy"))
    with pytest.raises(Unsupported, match="the AS is not ours"):
        world.lab  # noqa: B018 (starting the exchange is what is refused)
    with pytest.raises(Unsupported, match="cannot be made to send crafted packets"):
        world.shape_wire(mtu=576)


def test_the_capture_keeps_our_fragments_and_leaves_another_exchanges_out(tmp_path: Path) -> None:
    """Fragments carry no ports, so the capture filter passes every fragment on ``lo``: on a shared machine
    the written capture keeps only the datagrams that are ours (a first fragment with our ports, or an IP
    identification we sent), or an audit would judge someone else's NOTIFY."""
    from scapy.layers.inet import IP
    from scapy.utils import rdpcap

    from peers.craft.packets import Shaper, WirePlan
    from peers.io.recorder import Recorder

    notify = b"NOTIFY sip:1001@h SIP/2.0\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n" + b"x" * 1500
    mine = Shaper(WirePlan(mtu=576), ident=100).shape(notify, ("127.0.0.1", 5060), ("127.0.0.1", 5062))
    lost_head = Shaper(WirePlan(mtu=576, lose=1), ident=200).shape(notify, ("127.0.0.1", 5060), ("127.0.0.1", 5062))
    theirs = Shaper(WirePlan(mtu=576), ident=300).shape(notify, ("127.0.0.1", 7000), ("127.0.0.1", 7002))
    recorder = Recorder([5062])
    recorder.packets = [IP(p) for s in (mine, lost_head, theirs) for p in s.packets]
    for n, packet in enumerate(recorder.packets):
        packet.time = 1000.0 + n
    # the copy without its first fragment is known only by the identification the lab says it sent
    written = rdpcap(str(recorder.write(tmp_path / "shared.pcapng", ours={201})))
    kept = sorted({int(p[IP].id) for p in written})
    assert kept == [101, 201] and len(written) == len(mine.packets) + len(lost_head.packets)


def test_the_fragment_check_waits_for_the_sniffer_to_read_the_last_fragment() -> None:
    """A reversed datagram's first fragment leaves last: the receiver's answer can be in the log before the
    sniffer's thread has read it, and a check that looked at once found one fragment of two."""
    import threading

    from scapy.layers.inet import IP

    from peers.craft.packets import Shaper, WirePlan
    from peers.io.recorder import Recorder

    notify = b"NOTIFY sip:1001@h SIP/2.0\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n" + b"x" * 1500
    sent = [
        IP(p)
        for p in Shaper(WirePlan(mtu=1280, order="reversed"))
        .shape(notify, ("127.0.0.1", 5060), ("127.0.0.1", 5062))
        .packets
    ]
    recorder = Recorder([5062])
    recorder._keep(sent[0])
    late = threading.Thread(target=recorder._keep, args=(sent[1],))
    late.start()  # the sniffer's thread, reading the last fragment while the check runs
    captured = recorder.fragments({int(p.id) for p in sent}, len(sent))
    late.join()
    assert sorted(int(p.frag) for p in captured) == sorted(int(p.frag) for p in sent)
    assert len(recorder.fragments({int(sent[0].id) ^ 1}, 1, timeout=0.1)) == 0  # another datagram's: none
