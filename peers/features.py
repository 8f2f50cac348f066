"""A user's feature state (DND, CFA, CFB, CFNA) and its translation to and from the package's documents.

Shared by the AS emulator (the authoritative state) and the base emulator (the handset's view of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.documents import NS, FeatureDocument, build_document

FORWARDING = {"CFA": "forwardImmediate", "CFB": "forwardBusy", "CFNA": "forwardNoAns"}


@dataclass
class Forward:
    active: bool = False
    target: str = ""
    rings: int | None = None


@dataclass
class FeatureState:
    dnd: bool = False
    forwards: dict[str, Forward] = field(default_factory=lambda: {name: Forward() for name in FORWARDING})

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
            return build_document("DoNotDisturbEvent", device=device, dnd=self.dnd, namespace=namespace)
        fwd = self.forwards[feature]
        return build_document(
            "ForwardingEvent",
            device=device,
            forwarding_type=FORWARDING[feature],
            active=fwd.active,
            target=fwd.target if fwd.active else "",
            ring_count=fwd.rings if feature == "CFNA" else None,
            namespace=namespace,
        )

    def documents(self, device: str, namespace: str | None = NS) -> list[bytes]:
        return [self.document(feature, device, namespace) for feature in ("DND", *FORWARDING)]
