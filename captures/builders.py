"""The scripted SIP flows of the reference captures: one function per capture, returning its messages.

Each flow is built with ``peers/craft/flows.py`` (exact times, fixed tags and branches), so the captures are the same
bytes every run. ``scenarios.toml`` names each flow with its purpose and expected verdicts.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.observation import Observation
from analyzer.vocab import MEDIA_TYPE, NS_HYPHENLESS
from analyzer.vocab import NS as VOCAB_NS
from peers.craft.flows import (
    FULL_STATE,
    Flow,
    dnd_event,
    fwd_event,
    merge,
    one_change_two_dialogs,
    set_dnd,
    set_fwd,
)

HYPHENLESS = NS_HYPHENLESS.encode()
NS = VOCAB_NS.encode()


def provisioning(*accounts: tuple[str, str, str | None]) -> str:
    """A Gigaset provisioning file with one provider and ``(id, user, FeatureKeySyncActive)`` accounts."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<provisioning version="1.1" productID="e2">',
        "  <nvm>",
        '    <param name="SipProvider.0.Domain" value="example.test"/>',
        '    <param name="SipProvider.0.ProxyServerAddress" value="198.51.100.20"/>',
    ]
    for ident, user, fks in accounts:
        lines += [
            f'    <param name="SipAccount.{ident}.UserName" value="{user}"/>',
            f'    <param name="SipAccount.{ident}.AuthName" value="{user}"/>',
            f'    <param name="SipAccount.{ident}.AuthPassword" value="not-a-real-secret"/>',
            f'    <param name="SipAccount.{ident}.ProviderId" value="0"/>',
        ]
        if fks is not None:
            lines.append(f'    <param name="SipAccount.{ident}.FeatureKeySyncActive" value="{fks}"/>')
    return "\n".join([*lines, "  </nvm>", "</provisioning>", ""])


def hyphenless(docs: list[bytes]) -> list[bytes]:
    return [d.replace(NS, HYPHENLESS) for d in docs]


def conforming_broadworks() -> list[Observation]:
    f, other = Flow(), Flow(user="1002", call_id="reg-1002", clock=999.0)
    other.register()
    f.register()
    f.at(1.2).subscribe()
    f.respond(401, "Unauthorized", extra=[("WWW-Authenticate", 'Digest realm="example.test", nonce="n1", qop="auth"')])
    f.subscribe(auth=True)
    f.respond()
    f.notify(FULL_STATE)
    f.respond()
    f.at(10).subscribe(body=set_dnd(True))  # handset menu: DND on
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).notify([fwd_event("forwardNoAns", True, "1003", "3")])  # portal: CFNA to 1003 after 3 rings
    f.respond()
    f.at(10).invite("*79")  # feature access code: DND off
    f.at(0.4).notify([dnd_event(False)])
    f.respond()
    f.at(30).subscribe()  # refresh
    f.respond()
    f.notify([dnd_event(False), *FULL_STATE[1:3], fwd_event("forwardNoAns", True, "1003", "3")])
    f.respond()
    f.at(10).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([], state="terminated;reason=timeout")
    f.respond()
    return merge(other, f)


def conforming_tcp() -> list[Observation]:
    f = Flow(transport="TCP")
    f.establish()
    f.at(5).subscribe(body=set_fwd("forwardBusy", True, "1004"))
    f.respond()
    f.notify([fwd_event("forwardBusy", True, "1004")])
    f.respond()
    f.at(5).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([], state="terminated;reason=timeout")
    f.respond()
    return f.observations


def two_subscriptions(notify_both: bool) -> Callable[[], list[Observation]]:
    def build() -> list[Observation]:
        a = Flow(call_id="hs1@192.0.2.10", sub_tag="ta")
        b = Flow(call_id="hs2@192.0.2.11", sub_tag="tb", clock=1000.5)
        one_change_two_dialogs(a, b, 1010.0, notify_both)
        a.at(10).options()
        return merge(a, b)

    return build


def freeswitch_like() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond(202, "Accepted")
    f.notify(FULL_STATE, state="active, 3600")
    f.respond()
    return f.observations


def kamailio_like() -> list[Observation]:
    f = Flow()
    f.establish(docs=[])
    return f.observations


def bad_event_489() -> list[Observation]:
    f = Flow()
    f.subscribe(event="presence")
    f.respond(489, "Bad Event")
    return f.observations


def no_final_response() -> list[Observation]:
    f = Flow()
    f.subscribe()
    for gap in (0.5, 1.0, 2.0, 4.0):
        f.at(gap).subscribe(retransmit=True)
    f.at(40).options()
    return f.observations


def no_initial_notify() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond()
    f.at(10).options()
    return f.observations


def capture_ends_early() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond()
    return f.observations


def grant_deviations() -> list[Observation]:
    f = Flow()
    f.subscribe(expires=600, accept=None)
    f.respond(expires=3600)
    f.notify([dnd_event(False), fwd_event("forwardBusy", False)])
    f.respond()
    f.at(10).options()  # the capture runs past T_notify: CFA and CFNA are not coming
    return f.observations


def hyphenless_namespace() -> list[Observation]:
    f = Flow()
    f.establish(docs=hyphenless(FULL_STATE))
    return f.observations


def malformed_bodies() -> list[Observation]:
    f = Flow()
    f.establish()
    concatenated = (MEDIA_TYPE, dnd_event(True) + fwd_event("forwardBusy", True, "1004"))
    f.at(10).notify(raw_body=concatenated)
    f.respond()
    dtd = b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x "true">]>\n' + dnd_event(True).split(b"?>\n", 1)[1]
    f.at(10).notify([dtd])
    f.respond()
    f.at(10).notify([fwd_event("forwardImmediate", True, "")])
    f.respond()
    return f.observations


def notify_dialog_faults() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).notify([dnd_event(True)])
    f.respond(481, "Call/Transaction Does Not Exist")
    f.at(10).notify([dnd_event(False)], from_tag="someone-else", cseq=1)
    f.respond()
    return f.observations


def handset_change_faults() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True), in_dialog=False)  # out of dialog
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardImmediate", True, ""))  # activates CFA without a target
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardNoAns", True, "1002", "4"))
    f.respond()
    f.notify([fwd_event("forwardNoAns", True, "1002", "3")])  # the AS applied 3 rings
    f.respond()
    f.at(10).options()
    return f.observations


def handset_change_unconfirmed() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True))
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardBusy", True, "1005"))
    f.respond(403, "Forbidden")
    f.at(10).options()
    return f.observations


def fac_without_notify() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).invite("*78")
    f.at(10).options()
    return f.observations


def unsubscribe_without_final_notify() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).subscribe(expires=0)
    f.respond(expires=0)
    f.at(10).options()
    return f.observations


def notify_after_termination() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).notify([], state="terminated;reason=deactivated")
    f.respond()
    f.at(10).notify([dnd_event(True)])
    f.respond()
    return f.observations


def lapsed_subscription() -> list[Observation]:
    f = Flow()
    f.subscribe(expires=60, to_user="1009", accept="application/pidf+xml")
    f.respond(expires=60)
    f.notify(FULL_STATE, state="active;expires=60")
    f.respond()
    f.at(120).options()
    return f.observations


def hygiene_faults() -> list[Observation]:
    f = Flow()
    f.subscribe(body=b"please", ctype="text/plain")
    f.respond()
    n = f.notify(FULL_STATE)
    f.respond()
    obs = f.observations
    bad = obs[n - 1]
    head, _, body = bad.data.partition(b"\r\n\r\n")
    head = head.replace(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 40}".encode())
    obs[n - 1] = Observation(bad.index, bad.time, bad.src, bad.dst, bad.transport, head + b"\r\n\r\n" + body)
    return obs


def provisioning_faults() -> list[Observation]:
    disabled, silent = Flow(user="1001"), Flow(user="1002", call_id="x@192.0.2.10", clock=1000.1)
    disabled.register()
    disabled.at(1).establish()
    silent.register()
    silent.at(12).options()
    return merge(disabled, silent)


def n670_silent() -> list[Observation]:
    enabled, disabled = Flow(user="1001"), Flow(user="1002", clock=1000.1)
    enabled.register()
    disabled.register()
    enabled.at(10).options()
    return merge(enabled, disabled)


def n670_subscribes_anyway() -> list[Observation]:
    f = Flow()
    f.register()
    f.at(1).establish()
    return f.observations


def noise_only() -> list[Observation]:
    f = Flow()
    f.register()
    f.invite("1002")
    presence = Flow(call_id="p1@192.0.2.10")
    presence.subscribe(event="presence", accept="application/pidf+xml")
    presence.respond()
    presence.notify(raw_body=("application/pidf+xml", b"<presence/>"), event="presence")
    presence.respond()
    csta = Flow(call_id="u1@192.0.2.10", clock=1001.0)
    csta.subscribe(event="uaCSTA", accept="application/csta+xml")
    csta.respond()
    return merge(f, presence, csta)


# -- catalogue 1.1: the settled points, one capture each -------------------------------------------------


def refresh_then_lapse() -> list[Observation]:
    """A 60 s grant refreshed in time, then the refreshed grant runs out with traffic going on."""
    f = Flow()
    f.establish(expires=60)
    f.at(30).subscribe(expires=60)
    f.respond(expires=60)
    f.notify(FULL_STATE, state="active;expires=60")
    f.respond()
    f.at(120).options()
    return f.observations


def challenge_abandoned() -> list[Observation]:
    """The AS challenges with 401; the subscriber never retries, though the capture runs past Timer F."""
    f = Flow()
    f.subscribe()
    f.respond(401, "Unauthorized", extra=[("WWW-Authenticate", 'Digest realm="example.test", nonce="n1"')])
    f.at(40).options()
    return f.observations


def notify_without_expires() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond()
    f.notify(FULL_STATE, state="active")
    f.respond()
    return f.observations


def handset_change_refused_notified() -> list[Observation]:
    """A valid DND change refused with 403, then a NOTIFY of the unchanged state (DND off)."""
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True))
    f.respond(403, "Forbidden")
    f.notify([dnd_event(False)])
    f.respond()
    f.at(10).options()
    return f.observations


def handset_change_202() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True))
    f.respond(202, "Accepted")
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).options()
    return f.observations


def joined_mid_dialog() -> list[Observation]:
    """Two dialogs whose SUBSCRIBE came before the capture: a portal NOTIFY answered 200, one answered 481."""
    known = Flow(call_id="m1@192.0.2.10", sub_tag="tm1", as_tag="am1")
    known.notify([dnd_event(True)])
    known.respond()
    stale = Flow(user="1002", call_id="m2@192.0.2.10", sub_tag="tm2", as_tag="am2", clock=1001.0)
    stale.notify([dnd_event(True)])
    stale.respond(481, "Call/Transaction Does Not Exist")
    known.at(10).options()
    return merge(known, stale)


def timers_from_first_copy() -> list[Observation]:
    """Timers run from the first copy of the trigger to the first copy of the answer. 1001: the 200 is
    retransmitted and the NOTIFY comes 5.3 s after its first copy (3.8 s after the last). 1002: the NOTIFY's
    first copy comes 4.8 s after the 200, its retransmission 5.3 s after."""
    late = Flow(call_id="t1@192.0.2.10", sub_tag="tt1")
    late.subscribe()
    late.respond()
    late.at(1.5).subscribe(retransmit=True)
    late.respond()
    late.at(3.8 - 0.002).notify(FULL_STATE)
    late.respond()
    timely = Flow(user="1002", call_id="t2@192.0.2.10", sub_tag="tt2", clock=1000.2)
    timely.subscribe()
    timely.respond()
    timely.at(4.8 - 0.001).notify(FULL_STATE)
    timely.at(0.5 - 0.001).notify(FULL_STATE, retransmit=True)
    timely.respond()
    late.at(10).options()
    return merge(late, timely)


def notify_unanswered() -> list[Observation]:
    """A portal NOTIFY the phone never answers, retransmitted on Timer E, the capture running past Timer F."""
    f = Flow()
    f.establish()
    f.at(10).notify([dnd_event(True)])
    for gap in (0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0):
        f.at(gap).notify([dnd_event(True)], retransmit=True)
    f.at(10).options()
    return f.observations


def unsubscribe_capture_ends() -> list[Observation]:
    """Expires: 0 gets its 200 and the capture stops at once: the terminated NOTIFY cannot be judged."""
    f = Flow()
    f.establish()
    f.at(10).subscribe(expires=0)
    f.respond(expires=0)
    return f.observations


def handset_change_capture_ends() -> list[Observation]:
    """A DND change accepted with 200; the capture stops before its confirming NOTIFY was due."""
    f = Flow()
    f.establish()
    f.at(10).subscribe(body=set_dnd(True))
    f.respond()
    return f.observations


def notify_capture_ends() -> list[Observation]:
    """A portal NOTIFY sent as the capture stops: whether the phone answers it cannot be judged."""
    f = Flow()
    f.establish()
    f.at(10).notify([dnd_event(True)])
    return f.observations


def subscribe_window_open() -> list[Observation]:
    """Both accounts register; the capture stops 2 s later, inside T_subscribe of the enabled one."""
    enabled, disabled = Flow(user="1001"), Flow(user="1002", call_id="x@192.0.2.10", clock=1000.1)
    enabled.register()
    disabled.register()
    enabled.at(2).options()
    return merge(enabled, disabled)


def handset_change_out_of_dialog() -> list[Observation]:
    """A valid DND change sent as a new SUBSCRIBE without the dialog's To tag; the AS accepts and confirms it."""
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True), in_dialog=False)
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).options()
    return f.observations
