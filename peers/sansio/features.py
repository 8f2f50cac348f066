"""A user's feature state (DND, CFA, CFB, CFNA) and its translation to and from the package's documents.

Shared by the AS emulator (the authoritative state) and the base emulator (the handset's view of it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from analyzer.documents import FeatureDocument, build_document
from analyzer.vocab import FORWARDING_TYPE_OF, NS

FORWARDING = FORWARDING_TYPE_OF  # feature -> forwardingType


_PLAIN_DEVICE = re.compile(r"[A-Za-z0-9._+@-]*\Z")  # written as it is in XML text, in any encoding
DEVICE_MARK = "fks-device-mark"
_MARK = DEVICE_MARK.encode("ascii")


def with_device(device: str) -> Callable[[bytes], bytes] | None:
    """What puts ``device`` where a document built for ``DEVICE_MARK`` has the mark; None when the device
    is not plain text (it must then be built in, escaped)."""
    if not _PLAIN_DEVICE.match(device) or DEVICE_MARK in device:
        return None
    written = device.encode("ascii")
    return lambda built: built.replace(_MARK, written)


def _document(root: str, device: str, *state: object) -> bytes:
    """Documents are the same bytes for the same state but the device: a state's document is built once
    with a mark where the device goes (a storm of distinct users re-sends the same few states). ``state``:
    what ``_built`` takes after the device."""
    put = with_device(device)
    return put(_built(root, DEVICE_MARK, *state)) if put is not None else _built(root, device, *state)


@functools.lru_cache(maxsize=8192)
def _built(
    root: str,
    device: str,
    namespace: str | None,
    dnd: bool | None,
    feature: str = "",
    active: bool | None = None,
    target: str = "",
    rings: int | None = None,
) -> bytes:
    if root == "DoNotDisturbEvent":
        return build_document(root, device=device, dnd=dnd, namespace=namespace)
    return build_document(
        root,
        device=device,
        forwarding_type=FORWARDING[feature],
        active=active,
        target=target,
        ring_count=rings if feature == "CFNA" else None,
        namespace=namespace,
    )


@dataclass
class Forward:
    active: bool = False
    target: str = ""
    rings: int | None = None


@dataclass
class FeatureState:
    dnd: bool = False
    forwards: dict[str, Forward] = field(default_factory=lambda: {name: Forward() for name in FORWARDING})

    def key(self) -> tuple[object, ...]:
        """The state as a value: equal states, equal keys (what the documents built for a state are kept by)."""
        return (self.dnd, *[(f.active, f.target, f.rings) for f in self.forwards.values()])

    def apply(self, doc: FeatureDocument) -> str | None:
        """Take a change (a Set* request or an event) into the state; returns the feature it addressed."""
        feature = doc.feature
        if feature == "DND" and doc.dnd is not None:
            self.dnd = doc.dnd
        elif feature in FORWARDING and doc.active is not None:
            fwd = self.forwards[feature]
            fwd.active = doc.active
            if doc.target is not None:
                fwd.target = doc.target
            if feature == "CFNA" and doc.ring_count is not None:
                fwd.rings = doc.ring_count
        else:
            return None
        return feature

    def document(self, feature: str, device: str, namespace: str | None = NS) -> bytes:
        """The event document reporting one feature (``DoNotDisturbEvent`` or ``ForwardingEvent``)."""
        if feature == "DND":
            return _document("DoNotDisturbEvent", device, namespace, self.dnd)
        fwd = self.forwards[feature]
        target = fwd.target if fwd.active else ""
        return _document("ForwardingEvent", device, namespace, None, feature, fwd.active, target, fwd.rings)

    def documents(self, device: str, namespace: str | None = NS) -> list[bytes]:
        return [self.document(feature, device, namespace) for feature in ("DND", *FORWARDING)]


def change_request(feature: str, on: bool, device: str, target: str = "", rings: int | None = None) -> bytes:
    """The change request (``SetDoNotDisturb`` / ``SetForwarding``) that switches one feature: what a handset
    or a portal sends. A ring count belongs to CFNA only."""
    if feature == "DND":
        return build_document("SetDoNotDisturb", device=device, dnd=on)
    return build_document(
        "SetForwarding",
        device=device,
        forwarding_type=FORWARDING[feature],
        active=on,
        target=target,
        ring_count=rings if feature == "CFNA" else None,
    )


def state_document(feature: str, state: FeatureState, device: str) -> bytes:
    """The change request that puts one feature where ``state`` has it: what a portal is told to bring a user
    to a known state."""
    if feature == "DND":
        return build_document("SetDoNotDisturb", device=device, dnd=state.dnd)
    fwd = state.forwards[feature]
    return change_request(
        feature, fwd.active, device, fwd.target if fwd.active else "", fwd.rings if fwd.active else None
    )


def differences(shown: FeatureState, wanted: FeatureState) -> list[str]:
    """The features whose shown state is not the wanted one (an inactive forward's target does not count)."""
    out = [] if shown.dnd == wanted.dnd else [f"DND {'on' if shown.dnd else 'off'}"]
    for name, want in wanted.forwards.items():
        got = shown.forwards[name]
        same = got.active == want.active and (
            not want.active or (got.target == want.target and (want.rings is None or got.rings == want.rings))
        )
        if not same:
            out.append(f"{name} {'on -> ' + got.target if got.active else 'off'}")
    return out


def describe(state: FeatureState) -> str:
    """``DND off, CFA off, CFB on -> 1003, CFNA on -> 1002 after 4 rings``."""
    parts = [f"DND {'on' if state.dnd else 'off'}"]
    for name, fwd in state.forwards.items():
        rings = f" after {fwd.rings} rings" if fwd.active and fwd.rings else ""
        parts.append(f"{name} on -> {fwd.target}{rings}" if fwd.active else f"{name} off")
    return ", ".join(parts)
