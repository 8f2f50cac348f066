"""How the AS emulator deviates: profiles of known servers, one switch per deviation the catalogue names.

The profiles and what catches each are listed in docs/protocol.md (a test keeps the two in step).

Each profile exists so a scenario can prove the analyzer catches the deviation with the rule the catalogue
names (``catches``): a suite that never sees a failure proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.documents import NS, NS_HYPHENLESS


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    catches: tuple[tuple[str, str], ...] = ()  # (rule, verdict) a conversation with this profile must earn
    grant_status: int = 200
    malformed_state: bool = False  # "active, N" instead of "active;expires=N"
    initial_notify: bool = True
    initial_body: bool = True
    multipart: bool = True  # False: one NOTIFY per feature
    concatenated: bool = False  # several documents in one non-multipart body
    namespace: str | None = NS
    fetch_notify: bool = True  # a terminated NOTIFY after an out-of-dialog Expires: 0
    reject_package: bool = False  # 489 Bad Event


PROFILES = {
    p.name: p
    for p in (
        Profile("broadworks", "BroadWorks as documented: 200, multipart initial state, confirmations"),
        Profile("per-feature", "one NOTIFY per feature instead of multipart (allowed)", multipart=False),
        Profile(
            "freeswitch",
            "202 Accepted and Subscription-State 'active, N'",
            (("FKS-RSP-1", "warn"), ("FKS-NTF-3", "fail")),
            grant_status=202,
            malformed_state=True,
        ),
        Profile("kamailio", "initial NOTIFY without a body", (("FKS-NTF-2", "fail"),), initial_body=False),
        Profile(
            "opensips",
            "no NOTIFY after an out-of-dialog Expires: 0",
            (("FKS-TRM-1", "fail"),),
            fetch_notify=False,
        ),
        Profile(
            "hyphenless", "documents in the hyphenless namespace", (("FKS-NTF-5", "warn"),), namespace=NS_HYPHENLESS
        ),
        Profile("no-namespace", "documents without a namespace", (("FKS-NTF-5", "warn"),), namespace=None),
        Profile(
            "concatenated",
            "initial state as concatenated documents, not multipart",
            (("FKS-NTF-4", "fail"),),
            concatenated=True,
        ),
        Profile("no-initial-notify", "no NOTIFY after the 200", (("FKS-NTF-1", "fail"),), initial_notify=False),
        Profile("bad-event", "the package is not supported: 489", (("FKS-RSP-1", "fail"),), reject_package=True),
    )
}
