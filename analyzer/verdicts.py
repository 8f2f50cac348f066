"""Verdict vocabulary (docs/rules.md "Verdicts") and the evidence-carrying result of one rule check."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Verdict(str, Enum):
    """The five verdict words, ordered from best to worst by ``severity``."""

    NOT_APPLICABLE = "not_applicable"
    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    WARN = "warn"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        return SEVERITY[self]

    def __str__(self) -> str:
        return self.value


# The words as the rules write them.
PASS, WARN, FAIL = Verdict.PASS, Verdict.WARN, Verdict.FAIL
INCONCLUSIVE, NOT_APPLICABLE = Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE

SEVERITY = {  # a dict lookup: the property costs an Enum descriptor call
    Verdict.NOT_APPLICABLE: 0,
    Verdict.PASS: 1,
    Verdict.INCONCLUSIVE: 2,
    Verdict.WARN: 3,
    Verdict.FAIL: 4,
}


def worst(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The most severe verdict of a list (``not_applicable`` for an empty one)."""
    return max(verdicts, key=lambda v: v.severity, default=Verdict.NOT_APPLICABLE)


@dataclass(frozen=True, slots=True)
class Problem:
    """One fault found in a message's body or document, with the verdict it earns (``WARN`` or ``FAIL``): the
    framing of a body (FKS-NTF-4) and the XML rules of a document (FKS-NTF-5, FKS-HS-1) report the same way."""

    severity: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class Result:
    """One rule's verdict on one subscription (or on the capture), with its evidence.

    ``frames`` are the evidence references (pcap frame numbers or live message indexes); ``detail`` is the
    one-line reason a SIP engineer reads; ``expected`` / ``observed`` put expectation beside observation.
    """

    rule: str
    verdict: Verdict
    detail: str
    frames: tuple[int, ...] = ()
    expected: str = ""
    observed: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "verdict": self.verdict.value,
            "frames": list(self.frames),
            "detail": self.detail,
        }
        if self.expected:
            out["expected"] = self.expected
        if self.observed:
            out["observed"] = self.observed
        return out
