"""The T_notify window of a live exchange, waited out only as long as an answer is still missing.

A missing NOTIFY is a ``fail`` only once its window has passed inside the record (else ``inconclusive``). So a
scenario that may prove an absence lets T_notify pass after its last request; but where every grant already
has its NOTIFY there is no absence to prove, and the wait ends at once. The wait is on the record itself (an
event with a bounded timeout), never a plain sleep.
"""

from __future__ import annotations

import contextlib
import re

from analyzer.observation import Observation
from analyzer.sip.peek import peek_call_id, peek_cseq_method
from peers.targets.lab import Lab, LabError

_BODY = re.compile(rb"\r?\n\r?\n")


def grants_without_notify(observations: list[Observation]) -> int:
    """How many 2xx answers to a SUBSCRIBE (and 4xx refusals of a change request) have no NOTIFY of their
    Call-ID after them (before that Call-ID's next SUBSCRIBE): each is a NOTIFY the AS still owes (FKS-NTF-1,
    FKS-HS-3, FKS-TRM-1; FKS-HS-2 asks a refused change for a NOTIFY of the unchanged state)."""
    waiting: dict[str, bool] = {}  # Call-ID -> its last grant still waits for a NOTIFY
    change: dict[str, bool] = {}  # Call-ID -> its last SUBSCRIBE carried a body (a change request)
    passed_over = 0  # grants followed by the next SUBSCRIBE of their Call-ID with no NOTIFY between
    for obs in observations:
        call_id = peek_call_id(obs.data)
        if call_id is None:
            continue
        refused = obs.data.startswith(b"SIP/2.0 4") and change.get(call_id, False)
        if (obs.data.startswith(b"SIP/2.0 2") or refused) and peek_cseq_method(obs.data) == "SUBSCRIBE":
            waiting[call_id] = True
        elif obs.data.startswith(b"NOTIFY "):
            waiting[call_id] = False
        elif obs.data.startswith(b"SUBSCRIBE "):
            parts = _BODY.split(obs.data, maxsplit=1)
            change[call_id] = len(parts) == 2 and bool(parts[1].strip())
            if waiting.get(call_id):
                passed_over += 1
                waiting[call_id] = False
    return passed_over + sum(waiting.values())


def let_window_pass(lab: Lab, t_notify: float) -> None:
    """Wait until every grant of the record has its NOTIFY, at most ``t_notify`` (+0.1 s): the records then
    hold the NOTIFYs that came, or reach past the window of the ones that did not. A ping from the base
    marks the end in both records (log and capture)."""
    with contextlib.suppress(LabError):  # the window passed without it: the rules judge the absence
        lab.wait("a NOTIFY after every grant", lambda: grants_without_notify(lab.observations) == 0, t_notify + 0.1)
    lab.ping()
