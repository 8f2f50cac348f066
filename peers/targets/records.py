"""Facts read off a scenario's record that no rule of the catalogue judges but a scenario states: which digest
algorithm the authenticated requests used, which feature state the NOTIFYs answering a SUBSCRIBE carried, and
whether the record holds one subscription of a user, as a scenario about a single one presumes."""

from __future__ import annotations

from analyzer.bodies import read_body
from analyzer.observation import Observation
from analyzer.rules import Judgement
from analyzer.rules.base import PHONE
from analyzer.sip import SipError, SipMessage, parse_digest, parse_message, uri_user
from peers.sansio.features import FeatureState
from peers.targets.lab import Unsupported
from peers.targets.outcomes import check


def _messages(observations: list[Observation]) -> list[SipMessage]:
    out = []
    for obs in observations:
        try:
            out.append(parse_message(obs.data))
        except SipError:
            continue
    return out


def digest_algorithms(observations: list[Observation], method: str = "SUBSCRIBE") -> list[str]:
    """The algorithm of each set of digest credentials sent with a ``method`` request, in order (absent from
    the credentials: MD5, RFC 3261 section 22.4 after RFC 2617)."""
    out = []
    for msg in _messages(observations):
        if msg.method != method:
            continue
        for header in ("Authorization", "Proxy-Authorization"):
            for value in msg.headers.get_all(header):
                try:
                    out.append(parse_digest(value).get("algorithm", "MD5").upper())
                except SipError:
                    out.append("unreadable")
    return out


def initial_framing(observations: list[Observation]) -> str | None:
    """How the first NOTIFY that carries a body framed the state ("multipart", "single", "other"): BroadWorks
    documents one multipart NOTIFY, and FKS-NTF-2 allows one NOTIFY per feature as well. None: no such NOTIFY."""
    for msg in _messages(observations):
        if msg.method == "NOTIFY" and not (body := read_body(msg)).empty:
            return body.framing
    return None


def multipart_mismatch(observations: list[Observation], our_as: bool) -> str | None:
    """Why the initial state did not come in one multipart NOTIFY; None when it did. One NOTIFY per feature is
    allowed too (FKS-NTF-2): an AS under test that sends it cannot perform a scenario about the multipart form
    (Unsupported: a skip with that reason, not a defect)."""
    framing = initial_framing(observations)
    if framing == "single" and not our_as:
        raise Unsupported(
            "the AS under test sends the initial state one NOTIFY per feature, which FKS-NTF-2 allows; "
            "this scenario is about the multipart form"
        )
    if framing is None:
        return "FKS-NTF-2: no NOTIFY carried the initial state in a body"
    if framing != "multipart":
        return f"FKS-NTF-4: the initial state came {framing}, not in one multipart NOTIFY"
    return None


def state_answering_last_subscribe(observations: list[Observation], user: str) -> tuple[FeatureState, set[str]]:
    """The feature state reported by the NOTIFYs of the dialog of ``user``'s last SUBSCRIBE, sent after that
    SUBSCRIBE's 2xx; and the features they reported (an unreported feature keeps the default: off)."""
    messages = _messages(observations)
    subscribes = [m for m in messages if m.method == "SUBSCRIBE" and m.from_ is not None and m.from_.user == user]
    state, reported = FeatureState(), set()
    if not subscribes:
        return state, reported
    last = subscribes[-1]
    granted = False
    for msg in messages[messages.index(last) :]:
        if msg.call_id != last.call_id:
            continue
        if not msg.is_request and msg.cseq_method == "SUBSCRIBE" and msg.cseq_number == last.cseq_number:
            granted = granted or 200 <= (msg.status or 0) < 300
        elif granted and msg.method == "NOTIFY":
            for doc in read_body(msg).documents:
                if (feature := state.apply(doc)) is not None:
                    reported.add(feature)
    return state, reported


def one_subscription(judgement: Judgement, user: str, target: str, base_is_ours: bool) -> None:
    """The record holds a single feature-sync subscription of ``user``, as a scenario about one presumes. A real
    base may still hold one from before the scenario (a subscription it sent on its own, answered by our AS
    once it listened): then the scenario cannot make its point there and is skipped, saying so. With our
    base emulator a second one is our side's doing (``check``)."""
    calls = [sub.call_id for sub, _ in judgement.subscriptions if uri_user(sub.aor) == user]
    if len(calls) <= 1:
        return
    what = f"the record holds {len(calls)} subscriptions of user {user}, not one (Call-IDs {', '.join(calls)})"
    if not base_is_ours:
        raise Unsupported(f"{what}: the base under test kept one from before this scenario (restart it to run this)")
    check(target, PHONE, False, what)
