"""What a rule is, what it sees, and how its findings become one verdict per rule and subscription.

A rule is a small declarative object (like an h2spec case): its catalogue ID, title, sources, the
verdicts the catalogue allows it, its requirement in full (what is checked, what each verdict means for it, the
sections of its sources), and one or two checks. A subscription check gets one ``Subscription`` and
the ``Context``; a capture check gets the ``Context`` alone (PRV rules, and messages no dialog owns). A check
returns ``Finding``s, each with the evidence that proves it; ``aggregate`` folds them into one ``Result``
(the worst verdict, with the frames of every finding that has it), as reports show one line per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import tomllib

from analyzer.dialogs import Subscription, Trace
from analyzer.fac import DEFAULT_FACS, Fac
from analyzer.provisioning import Provisioning
from analyzer.verdicts import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, SEVERITY, WARN, Result, Verdict

# The version of the conformance catalogue these rules implement; reports and the rulebook name it.
CATALOGUE_VERSION = "1.1"

# Catalogue 1.1: "when the trigger occurs but the capture ends before the expected answer could arrive, it is
# inconclusive" and an absent trigger is not_applicable, for every rule, whatever its verdicts column lists.
GENERAL = frozenset({INCONCLUSIVE, NOT_APPLICABLE})


@dataclass(frozen=True, slots=True)
class Options:
    """The catalogue's timers (seconds) and the deployment data a judgement depends on."""

    notify_timeout: float = 5.0  # T_notify
    subscribe_timeout: float = 5.0  # T_subscribe
    final_timeout: float = 32.0  # T_final (Timer F)
    facs: Mapping[str, Fac] = field(default_factory=lambda: dict(DEFAULT_FACS))
    model: str | None = None
    internal_telephony: bool | None = None


@dataclass(frozen=True, slots=True)
class Context:
    trace: Trace
    options: Options = field(default_factory=Options)
    provisioning: Provisioning | None = None

    def ended_before(self, deadline: float) -> bool:
        """Whether the recording stops before ``deadline``: what would come later cannot be judged."""
        end = self.trace.end_time
        return end is None or end < deadline


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation of a rule: a verdict, the one-line reason, the frames that prove it."""

    verdict: Verdict
    detail: str
    frames: tuple[int, ...] = ()
    expected: str = ""
    observed: str = ""


def finding(verdict: Verdict, detail: str, *frames: int, expected: str = "", observed: str = "") -> Finding:
    return Finding(verdict, detail, tuple(sorted(set(frames))), expected, observed)


def overdue(
    ctx: Context,
    deadline: float,
    waiting: str,
    at: int,
    missing: str,
    *frames: int,
    expected: str = "",
    observed: str = "",
) -> Finding:
    """What was due by ``deadline`` and did not come: ``inconclusive`` (``waiting``, at frame ``at``) when the
    capture ends before the deadline (the catalogue's general rule), else ``fail`` (``missing``, ``frames``)."""
    if ctx.ended_before(deadline):
        return finding(INCONCLUSIVE, waiting, at)
    return finding(FAIL, missing, *frames, expected=expected, observed=observed)


# Whose behaviour a rule judges: the phone side (the Gigaset base and its handsets), the AS, or whichever sent
# the message (SIP hygiene). A live run against a real device plays the other side with an emulator, whose
# verdicts must never be counted against the device under test.
PHONE, SERVER, EITHER = "phone", "as", "either"
_GROUP_PARTY = {"SUB": PHONE, "PRV": PHONE, "SIP": EITHER}


SubscriptionCheck = Callable[[Subscription, Context], list[Finding]]
CaptureCheck = Callable[[Context], list[Finding]]


# The two non-RFC sources of the catalogue, as a rule's references name them.
GIGASET = "Gigaset documentation of feature key synchronisation (DECT multicell N610, N670, N870, N870E)"
BROADWORKS = (
    "BroadWorks Device Feature Key Synchronization, as independent servers (OpenSIPS and Kamailio presence_dfks, "
    "FreeSWITCH) and phones implement it"
)

# What the general verdicts mean for a rule that says nothing more particular about them.
GENERAL_MEANINGS = {
    INCONCLUSIVE: "the trigger is in the traffic but the capture ends before the answer could arrive",
    NOT_APPLICABLE: "the traffic that triggers the rule does not occur",
}


class RuleError(RuntimeError):
    """A rule gave a verdict outside its own list: a bug of the rule, not a property of the traffic. Raised
    as a distinct error so a report shows the check as broken, never as a failed conformance check."""


@dataclass(frozen=True)
class Rule:
    """One requirement of the conformance catalogue, with its full text (``analyzer.report.rulebook`` renders it)."""

    id: str
    title: str
    sources: tuple[str, ...]
    verdicts: frozenset[Verdict]
    expectation: str
    subscription_check: SubscriptionCheck | None = None
    capture_check: CaptureCheck | None = None
    idle: str = "the traffic that triggers this rule does not occur"
    judges: str = SERVER  # PHONE, SERVER or EITHER: whose behaviour the verdict is about
    configuration: bool = False  # judges the provisioning file itself: its findings have no frames to cite
    requirement: str = ""  # what is checked, in the project's words
    meanings: tuple[tuple[Verdict, str], ...] = ()  # what each verdict means for this rule
    references: tuple[str, ...] = ()  # the sections of the sources (Gigaset, BroadWorks, RFC 6665 / 3261)
    catalogue: str = CATALOGUE_VERSION

    def meaning(self, verdict: Verdict) -> str:
        """What ``verdict`` means for this rule (the general meaning when the rule gives none)."""
        own = dict(self.meanings)
        if verdict in own:
            return own[verdict]
        if verdict is NOT_APPLICABLE:
            return self.idle
        return GENERAL_MEANINGS.get(verdict, "")

    def listed_verdicts(self) -> tuple[Verdict, ...]:
        """Every verdict the rule can give, best first: its own and the general ones."""
        return tuple(sorted(self.verdicts | GENERAL, key=lambda v: _ORDER.index(v)))

    @property
    def group(self) -> str:
        return self.id.split("-")[1]

    def judge_subscription(self, sub: Subscription, ctx: Context) -> Result | None:
        if self.subscription_check is None:
            return None
        return self.aggregate(self.subscription_check(sub, ctx))

    def judge_capture(self, ctx: Context) -> Result | None:
        if self.capture_check is None:
            return None
        findings = self.capture_check(ctx)
        if not findings and self.subscription_check is not None:
            return None  # nothing at capture level: the per-subscription results speak
        return self.aggregate(findings)

    def aggregate(self, findings: list[Finding]) -> Result:
        """One verdict from findings: the worst, with the frames of every finding that has it."""
        if not findings:
            key = (self.id, self.idle, self.expectation)
            idle = _IDLE_RESULTS.get(key)  # the same for every subscription the rule does not concern
            if idle is None:
                idle = Result(self.id, Verdict.NOT_APPLICABLE, self.idle, expected=self.expectation)
                if len(_IDLE_RESULTS) < 4096:
                    _IDLE_RESULTS[key] = idle
            return idle
        allowed = self.verdicts
        for f in findings:
            if f.verdict not in allowed and f.verdict not in GENERAL:
                raise RuleError(f"{self.id} produced {f.verdict.value}, outside {sorted(self.verdicts)}")
        top = max(SEVERITY[f.verdict] for f in findings)
        worst = [f for f in findings if SEVERITY[f.verdict] == top]
        detail = worst[0].detail
        if len(worst) > 1:
            detail += f" (+{len(worst) - 1} more)"
            frames = tuple(sorted({n for f in worst for n in f.frames}))
        else:
            frames = worst[0].frames  # ``finding`` made them sorted and distinct
        return Result(
            self.id,
            worst[0].verdict,
            detail,
            frames,
            expected=worst[0].expected or self.expectation,
            observed=worst[0].observed,
        )


_IDLE_RESULTS: dict[tuple[str, str, str], Result] = {}  # Results are frozen: one not_applicable per rule serves all


_VERDICT_WORDS = {v.value: v for v in Verdict}
_ORDER = (PASS, WARN, FAIL, INCONCLUSIVE, NOT_APPLICABLE)


def _rulebook() -> dict[str, dict[str, Any]]:
    """``rulebook.toml``: each rule's words (title, sources, verdicts, expectation, requirement, meanings,
    references), kept as data beside the checks so the texts read as one book and are written once."""
    book = tomllib.loads(resources.files("analyzer.rules").joinpath("rulebook.toml").read_text("utf-8"))
    for entry in book.values():
        entry["references"] = [ref.format(GS=GIGASET, BW=BROADWORKS) for ref in entry["references"]]
    return book


RULEBOOK = _rulebook()


def declared(
    rule_id: str,
    *,
    subscription_check: SubscriptionCheck | None = None,
    capture_check: CaptureCheck | None = None,
    judges: str | None = None,
    configuration: bool = False,
) -> Rule:
    """The rule ``rule_id`` as the rulebook words it, with its checks (the decorators below use it; a rule
    with both a subscription and a capture check calls it directly)."""
    words = RULEBOOK[rule_id]
    return Rule(
        rule_id,
        words["title"],
        tuple(words["sources"].split()),
        frozenset(_VERDICT_WORDS[w] for w in words["verdicts"].split()),
        words["expectation"],
        subscription_check=subscription_check,
        capture_check=capture_check,
        idle=words.get("idle", Rule.idle),
        judges=judges or _GROUP_PARTY.get(rule_id.split("-")[1], SERVER),
        configuration=configuration,
        requirement=" ".join(words["requirement"].split()),
        meanings=tuple((_VERDICT_WORDS[w], " ".join(m.split())) for w, m in words["meanings"].items()),
        references=tuple(words["references"]),
    )


def rule(rule_id: str, *, judges: str | None = None) -> Callable[[SubscriptionCheck], Rule]:
    """Declare a subscription-scope rule around its check function; its words come from the rulebook
    (``judges``: PHONE, SERVER or EITHER when the group does not say: SUB and PRV judge the phone, SIP either
    side, the rest the AS)."""
    return lambda check: declared(rule_id, subscription_check=check, judges=judges)


def capture_rule(
    rule_id: str, *, judges: str | None = None, configuration: bool = False
) -> Callable[[CaptureCheck], Rule]:
    """Declare a capture-scope rule (it judges the capture as a whole, e.g. against provisioning;
    ``configuration``: it judges the provisioning file itself, so its findings cite no frames)."""
    return lambda check: declared(rule_id, capture_check=check, judges=judges, configuration=configuration)


def ms(seconds: float) -> str:
    """A delay as people read it in a ladder: ``12 ms``, ``4.2 s``."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
