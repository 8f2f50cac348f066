"""The rulebook: what each rule of the catalogue requires, rendered from the rule objects themselves.

A report says ``FAIL FKS-NTF-2``; this module says what FKS-NTF-2 requires, what each of its verdicts means
and where the requirement comes from, in three forms: the catalogue as a list (``fks rules``), one rule in
full (``fks rules FKS-NTF-2``, ``requirement_text``, the end of a text report, the HTML and Allure reports),
and the whole rulebook as Markdown (``fks rules --markdown`` writes ``docs/rules.md``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

from analyzer.rules import BY_ID, CATALOGUE, Rule
from analyzer.rules.base import BROADWORKS, CATALOGUE_VERSION, EITHER, GIGASET, PHONE
from analyzer.verdicts import Verdict

WIDTH = 100

GROUPS = {
    "SUB": "The subscription (phone -> AS)",
    "RSP": "The AS grants the subscription",
    "NTF": "Notifications (AS -> phone)",
    "HS": "A change made in the handset menu (phone -> AS)",
    "AS": "A change made on the portal or by feature access code (AS -> phone)",
    "TRM": "Ending a subscription",
    "PRV": "Provisioning and applicability (needs the provisioning file)",
    "SIP": "Message hygiene inside feature-sync dialogs",
}

# What each verdict word means in every report, whatever the rule.
VERDICTS = {
    Verdict.PASS: "the behaviour was seen and meets the requirement",
    Verdict.WARN: "met in a non-strict way: it works with some peers, but is not what BroadWorks and Gigaset document",
    Verdict.FAIL: "the requirement is violated; the verdict names the frames (or live messages) that prove it",
    Verdict.INCONCLUSIVE: "the trigger is there but the traffic needed to judge is not (the capture ends before "
    "the answer could arrive, a message is missing)",
    Verdict.NOT_APPLICABLE: "the traffic that triggers the rule does not occur (no handset change, no feature "
    "access code call, no provisioning file ...)",
}

SOURCES = {
    "GS": GIGASET,
    "BW": BROADWORKS,
    "6665": "RFC 6665, SIP-Specific Event Notification",
    "3261": "RFC 3261, SIP: Session Initiation Protocol",
}

TIMERS = (
    "T_notify (default 5 s, `--notify-timeout`): how long after a 2xx, a change or a feature access code call "
    "the NOTIFY may take. T_subscribe (default 5 s, `--subscribe-timeout`): how long after its successful "
    "REGISTER an enabled handset account may take to subscribe. T_final (default 32 s, Timer F, "
    "`--final-timeout`): how long a transaction may wait for its final response. Timers run on the capture's "
    "clock (or the live peer's receive time) from the first copy of the trigger to the first copy of the "
    "answer: time lost to retransmissions counts, because the phone lives it."
)

_GENERAL_NOTE = "any rule may also be inconclusive or not_applicable"
_JUDGES = {PHONE: "the phone (the Gigaset base and its handsets)", EITHER: "whichever side sent the message"}


class UnknownRule(KeyError):
    """A rule ID that is not in the catalogue."""

    def __str__(self) -> str:
        return f"unknown rule {self.args[0]!r} (fks rules lists the catalogue)"


def rule_of(rule_id: str) -> Rule:
    """The rule with this ID (case-insensitive); raises ``UnknownRule``."""
    try:
        return BY_ID[rule_id.strip().upper()]
    except KeyError:
        raise UnknownRule(rule_id) from None


def judges(rule: Rule) -> str:
    return _JUDGES.get(rule.judges, "the AS")


def verdict_words(rule: Rule) -> str:
    """The verdicts the catalogue lists for the rule, best first (``pass/warn/fail``)."""
    return "/".join(v.value for v in rule.listed_verdicts() if v in rule.verdicts)


def _wrap(text: str, indent: str = "  ", width: int = WIDTH) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def requirement_text(rule_id: str) -> str:
    """One rule in full, as plain text: title, requirement, what each verdict means, what is expected, whose
    behaviour is judged, and the sources. (``fks rules ID``; the Allure writer can attach it as it is.)"""
    rule = rule_of(rule_id)
    width = max(len(v.value) for v in Verdict) + 2
    lines = [f"{rule.id}  {rule.title}", f"  catalogue {rule.catalogue}; judges {judges(rule)}", "", "Requirement"]
    lines += _wrap(rule.requirement)
    lines += ["", f"Verdicts ({verdict_words(rule)}; {_GENERAL_NOTE})"]
    for v in rule.listed_verdicts():
        label = f"  {v.value + ':':<{width}}"
        lines += textwrap.wrap(
            rule.meaning(v),
            WIDTH,
            initial_indent=label,
            subsequent_indent=" " * len(label),
            break_on_hyphens=False,
        )
    lines += ["", "Expected", *_wrap(rule.expectation)]
    lines += ["", f"Sources ({', '.join(rule.sources)})"]
    for ref in rule.references:
        lines += textwrap.wrap(ref, WIDTH, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def requirement_brief(rule_id: str, verdicts: Iterable[str] = ()) -> list[str]:
    """A rule's requirement and the meaning of the given verdicts, for the end of a text report."""
    rule = rule_of(rule_id)
    lines = [f"{rule.id}  {rule.title}", *_wrap(rule.requirement)]
    for word in sorted(set(verdicts), key=lambda w: -Verdict(w).severity):
        lines += _wrap(f"{word}: {rule.meaning(Verdict(word))}")
    lines += _wrap(f"sources: {', '.join(rule.sources)} (fks rules {rule.id} names the sections)")
    return lines


def catalogue_text() -> str:
    """The catalogue as a list: ID, verdicts, title (``fks rules``)."""
    lines = [f"Conformance catalogue {CATALOGUE_VERSION}: {len(CATALOGUE)} rules (fks rules ID shows one in full)"]
    group = ""
    for rule in CATALOGUE:
        if rule.group != group:
            group = rule.group
            lines += ["", f"{group} - {GROUPS.get(group, group)}"]
        lines.append(f"  {rule.id:<10} {verdict_words(rule):<38} {rule.title}")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;").replace(">", "&gt;")


def _anchor(rule: Rule) -> str:
    return rule.id.lower()


def markdown() -> str:
    """The whole rulebook as Markdown (``docs/rules.md``)."""
    out = [
        f"# The conformance rules (catalogue {CATALOGUE_VERSION})",
        "",
        "Generated by `fks rules --markdown > docs/rules.md` from the rule objects in `analyzer/rules/`: edit "
        "those, not this file (`tests/test_rulebook.py` fails when the two differ). Every verdict of every "
        "report names one of these IDs; `fks rules ID` prints the same text on a terminal.",
        "",
        "## Verdicts",
        "",
        "| verdict | meaning |",
        "|---|---|",
        *(f"| `{v.value}` | {_md_cell(text)} |" for v, text in VERDICTS.items()),
        "",
        "Any rule may be `inconclusive` or `not_applicable`, whatever the verdicts it lists. A report shows one "
        "verdict per rule and subscription: the worst of what the rule found (`fail` before `warn` before "
        "`inconclusive` before `pass`).",
        "",
        "## Timers",
        "",
        TIMERS,
        "",
        "## Sources",
        "",
        *(f"- **{code}**: {_md_cell(text)}" for code, text in SOURCES.items()),
        "",
        "## The rules",
        "",
        "| ID | requirement | verdicts | sources |",
        "|---|---|---|---|",
        *(
            f"| [{r.id}](#{_anchor(r)}) | {_md_cell(r.title)} | {verdict_words(r)} | {', '.join(r.sources)} |"
            for r in CATALOGUE
        ),
    ]
    group = ""
    for rule in CATALOGUE:
        if rule.group != group:
            group = rule.group
            out += ["", f"## {group}: {GROUPS.get(group, group)}"]
        out += _md_rule(rule)
    return "\n".join(out) + "\n"


def _md_rule(rule: Rule) -> list[str]:
    lines = ["", f"### {rule.id}", "", f"**{_md_cell(rule.title)}**", "", _md_cell(rule.requirement), ""]
    lines += [f"Verdicts: {verdict_words(rule)} ({_GENERAL_NOTE}).", ""]
    lines += ["| verdict | what it means here |", "|---|---|"]
    for v in rule.listed_verdicts():
        lines.append(f"| `{v.value}` | {_md_cell(rule.meaning(v))} |")
    lines += ["", f"Expected: {_md_cell(rule.expectation)}. Judges {judges(rule)}.", "", "Sources:"]
    lines += [f"- {_md_cell(ref)}" for ref in rule.references]
    return lines


def flag(flagged: dict[str, set[str]], verdicts: Iterable[Mapping[str, object]]) -> None:
    """Note in ``flagged`` (rule ID -> verdict words) the rules of ``verdicts`` that failed or warned."""
    for v in verdicts:
        if v["verdict"] in ("fail", "warn"):
            flagged.setdefault(str(v["rule"]), set()).add(str(v["verdict"]))


def requirements_section(flagged: Mapping[str, Iterable[str]]) -> list[str]:
    """The closing section of a text report: once per rule that failed or warned, in catalogue order, what it
    requires and what its verdicts mean (IDs outside the catalogue are left out)."""
    rules = [r for r in CATALOGUE if r.id in flagged]
    if not rules:
        return []
    lines = ["", f"What the rules that failed or warned require (catalogue {CATALOGUE_VERSION}):"]
    for rule in rules:
        lines += ["", *requirement_brief(rule.id, flagged[rule.id])]
    return lines
