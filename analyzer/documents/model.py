"""The feature documents as values: their roots, their shapes (which children each root carries), the
``Problem`` a judged document may carry, and ``FeatureDocument`` itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.verdicts import Problem, Verdict, worst
from analyzer.vocab import FORWARDING_TYPES

EVENT_ROOTS = ("DoNotDisturbEvent", "ForwardingEvent")
REQUEST_ROOTS = ("SetDoNotDisturb", "SetForwarding")
BOOLEANS = {"true": True, "false": False}
DTD_REASON = "document has a DTD / entity declarations; not expanded"


@dataclass(frozen=True, slots=True)
class Shape:
    """What one root carries: its boolean child, its target child (forwarding only), its children."""

    flag: str
    target: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    known: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset(self.required + self.optional))


_DND = ("device", "doNotDisturbOn")
SHAPES = {
    "DoNotDisturbEvent": Shape("doNotDisturbOn", None, _DND),
    "SetDoNotDisturb": Shape("doNotDisturbOn", None, _DND),
    "ForwardingEvent": Shape(
        "forwardStatus",
        "forwardTo",
        ("device", "forwardingType", "forwardStatus"),
        ("forwardTo", "ringCount"),
    ),
    "SetForwarding": Shape(
        "activateForward",
        "forwardDN",
        ("device", "forwardingType", "activateForward"),
        ("forwardDN", "ringCount"),
    ),
}


class DocumentError(ValueError):
    """The body is not a usable XML document (the one error ``parse_document`` raises); one line."""


@dataclass(frozen=True, slots=True)
class FeatureDocument:
    """A parsed feature document; ``problems`` lists what breaks the catalogue's XML rules."""

    root: str
    namespace: str | None
    device: str | None  # "" when empty, the child's name for <device><notKnown/></device>, None when absent
    dnd: bool | None
    forwarding_type: str | None  # the raw (stripped) forwardingType text
    active: bool | None  # forwardStatus (events) or activateForward (requests)
    target: str | None  # forwardTo (events) or forwardDN (requests)
    ring_count: int | None
    problems: tuple[Problem, ...] = ()

    @property
    def kind(self) -> str:
        """``event`` (AS -> phone), ``request`` (phone -> AS) or ``unknown``."""
        if self.root in EVENT_ROOTS:
            return "event"
        return "request" if self.root in REQUEST_ROOTS else "unknown"

    @property
    def feature(self) -> str | None:
        """DND, CFA, CFB or CFNA; None for an unknown root or forwardingType."""
        if self.root in ("DoNotDisturbEvent", "SetDoNotDisturb"):
            return "DND"
        if self.root in ("ForwardingEvent", "SetForwarding"):
            return FORWARDING_TYPES.get(self.forwarding_type or "")
        return None

    @property
    def worst(self) -> Verdict:
        """The worst verdict of the problems; ``PASS`` without any."""
        return worst([Verdict.PASS, *(p.severity for p in self.problems)])

    def summary(self) -> str:
        """How a person says it: ``DND on``, ``CFB off``, ``CFNA -> 1002 after 4 rings``."""
        if self.kind == "unknown":
            return f"{self.root} (not a feature document)"
        if self.feature == "DND":
            return f"DND {_on_off(self.dnd)}"
        label = self.feature or f"forwarding {self.forwarding_type or '?'}"
        if not self.active:
            return f"{label} {_on_off(self.active)}"
        rings = ""
        if self.ring_count is not None:
            rings = f" after {self.ring_count} ring{'' if self.ring_count == 1 else 's'}"
        return f"{label} -> {self.target or '?'}{rings}"


def _on_off(state: bool | None) -> str:
    return "?" if state is None else "on" if state else "off"
