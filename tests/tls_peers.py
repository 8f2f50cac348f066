"""What the TLS tests share: ``fks`` processes over TLS, stunnel in front of SIPp (Debian's SIPp has no TLS),
and the audit of a TLS capture. Certificates are made per test (``peers.io.certs``), never committed."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

from analyzer.observation import Endpoint
from tests.test_live import _start, read_until

SIPP = Path(__file__).parent / "sipp"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_as(*args: str) -> tuple[subprocess.Popen[str], Endpoint]:
    """``fks as --transport tls`` on an ephemeral port; the process and where it listens."""
    proc = _start("as", "--listen", "127.0.0.1:0", "--transport", "tls", *args)
    first = read_until(proc, "listening on")[-1]
    match = re.search(r"listening on tls ([\d.]+):(\d+)", first)
    assert match, first
    read_until(proc, "TLS 1.2/1.3")  # the second line: what is checked
    return proc, Endpoint(match.group(1), int(match.group(2)))


def stunnel(folder: Path, name: str, accept: int, connect: int, **options: str) -> subprocess.Popen[str]:
    """stunnel in the foreground, started once it says its configuration took (its log is its stdout)."""
    lines = ["foreground = yes", "pid =", "debug = 5", f"[{name}]", f"accept = 127.0.0.1:{accept}"]
    lines += [f"connect = 127.0.0.1:{connect}", *(f"{key} = {value}" for key, value in options.items())]
    config = folder / f"{name}.conf"
    config.write_text("\n".join(lines) + "\n")
    command = shutil.which("stunnel4") or shutil.which("stunnel") or "stunnel4"
    proc = subprocess.Popen([command, str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    read_until(proc, "Configuration successful")
    return proc


def sipp(scenario: str, port: int, folder: Path, *target: str) -> list[str]:
    """SIPp over TCP (one call), as a command line."""
    command = ["sipp", "-t", "t1", "-sf", str(SIPP / scenario), "-m", "1", "-i", "127.0.0.1", "-p", str(port)]
    return [*command, "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", *target]


def decode_as(port: int) -> tuple[str, str]:
    """tshark: the AS's port is TLS, and TLS there carries SIP (5061 would need neither)."""
    return (f"tcp.port=={port},tls", f"tls.port=={port},sip")
