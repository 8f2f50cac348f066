"""Which checks a conformance run cannot make on this machine, and whether it may run without them.

After every scenario the message log and the wire capture are judged alike and compared. Without
tshark no capture is audited; without capture privileges the capture is rebuilt from the message log, so the
comparison would set the log against itself. On a laptop the run goes on and says which check it dropped; in
CI (``CI=true``, as ``.ci/run`` exports) a dropped check fails the run, since a green CI run must mean that
every check was made.
"""

from __future__ import annotations

import os
import shutil

from peers.io.recorder import can_sniff

TSHARK = "log-vs-capture check dropped: tshark is not installed, so no scenario's capture is audited"
PRIVILEGES = (
    "log-vs-capture check dropped: no capture privileges (root or CAP_NET_RAW), so each capture is rebuilt "
    "from the message log and would only be compared with itself"
)


def in_ci() -> bool:
    """Whether this run is a CI run: ``CI`` set to true (GitHub Actions, GitLab CI and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def dropped_checks() -> list[str]:
    """The checks this machine cannot make, one line each (empty: every check runs)."""
    dropped = []
    if shutil.which("tshark") is None:
        dropped.append(TSHARK)
    if not can_sniff():
        dropped.append(PRIVILEGES)
    return dropped


def ci_refusal(dropped: list[str]) -> str | None:
    """The one line that fails a CI run missing a check; None when the run may go on."""
    if not dropped or not in_ci():
        return None
    fixes = {TSHARK: "install tshark", PRIVILEGES: "run as root or grant CAP_NET_RAW"}
    return "CI=true but " + "; ".join(f"{line} ({fixes.get(line, 'fix the machine')})" for line in dropped)
