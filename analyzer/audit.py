"""Audit a capture: read it (``capture``), rebuild its dialogs (``dialogs``), judge them (``rules``).

The result is the data of the JSON report (``analyzer/schemas/audit.schema.json``): plain data, but for the
subscriptions of the command line's audits, kept as compressed JSON text (``Kept``, ``analyzer.spilled``). It
crosses process boundaries (a Dask cluster's workers, ``analyzer/fleet``) and every report format renders from
the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analyzer import __version__
from analyzer.dialogs import Subscription
from analyzer.judging import AuditSettings, judge_stream
from analyzer.observation import Observation
from analyzer.rules import CATALOGUE, Judgement
from analyzer.rules.base import CATALOGUE_VERSION, Options
from analyzer.schema import SCHEMA_ID
from analyzer.spilled import Spilled
from analyzer.verdicts import Result, Verdict, worst

VERDICT_WORDS = tuple(
    v.value for v in (Verdict.PASS, Verdict.WARN, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE)
)


MAX_DRAWN = 2000  # messages kept per subscription for a ladder (--html, --format allure)


def expected_settings(spec: dict[str, Any], folder: Path) -> AuditSettings:
    """The audit options a reference capture's ``expected.json`` names (its provisioning file beside it)."""
    from analyzer.fac import DEFAULT_FACS
    from analyzer.provisioning import parse_provisioning

    opts = spec.get("options", {})
    provisioning = None
    if opts.get("provisioning"):
        provisioning = parse_provisioning(
            (folder / opts["provisioning"]).read_bytes(),
            model=opts.get("model"),
            internal_telephony=opts.get("internal_telephony"),
        )
    options = Options(
        notify_timeout=float(opts.get("notify_timeout") or 5.0),
        facs=dict(DEFAULT_FACS),
        model=opts.get("model"),
        internal_telephony=opts.get("internal_telephony"),
    )
    return AuditSettings(options, provisioning, tuple(opts.get("decode_as") or ()))


def subscription_json(sub: Subscription, results: Sequence[Result], messages: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "aor": sub.aor,
        "call_id": sub.call_id,
        "client": str(sub.client),
        "server": str(sub.server),
        "verdicts": [r.to_json() for r in results],
    }
    if messages:
        kept = sub.messages()
        out["messages"] = [message_json(m.obs) for m in kept[:MAX_DRAWN]]
        if len(kept) > MAX_DRAWN:
            out["messages_truncated"] = len(kept) - MAX_DRAWN
    return out


class Shared:
    """Identical results without frames (the ``not_applicable`` ones, mostly) stored once: their JSON text is
    then rendered once (``json_text``). Results citing frames are almost never alike and pass through, so
    this stays as small as the catalogue's wording."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], Result] = {}

    def __call__(self, results: Sequence[Result]) -> tuple[Result, ...]:
        out = []
        for r in results:
            if r.extra or r.frames:
                out.append(r)
                continue
            key = (r.rule, r.verdict, r.detail, r.expected, r.observed)
            out.append(self._seen.setdefault(key, r))
        return tuple(out)


def message_json(obs: Observation) -> dict[str, Any]:
    """A message in plain data (for ladders drawn in another process): its bytes as latin-1 text."""
    return {
        "index": obs.index,
        "time": obs.time,
        "src": str(obs.src),
        "dst": str(obs.dst),
        "transport": obs.transport,
        "text": obs.data.decode("latin-1"),
    }


def judgement_json(judgement: Judgement, messages: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    subs = [subscription_json(sub, results, messages) for sub, results in judgement.subscriptions]
    return subs, [r.to_json() for r in judgement.capture]


class Kept:
    """The judged subscriptions of a capture (or of one share of it) as the audit keeps them until the report
    is written: ``lean``, as compressed JSON text (``spilled``: bounded memory, what the command line uses);
    otherwise as dicts, with their messages for ladders when ``messages``."""

    def __init__(self, lean: bool, messages: bool) -> None:
        self.messages = messages
        self.spilled = Spilled() if lean and not messages else None
        self.dicts: list[tuple[int, dict[str, Any]]] = []
        self.shared = Shared()

    def __call__(self, sub: Subscription, results: tuple[Result, ...]) -> None:
        if self.spilled is None:
            self.dicts.append((sub.first_index, subscription_json(sub, results, self.messages)))
            return
        from analyzer.report.json_text import SUBSCRIPTION_LEVEL, SubscriptionEntry, encode  # report/ imports us

        entry = SubscriptionEntry(sub, self.shared(results))
        self.spilled.add(sub.first_index, encode(entry, SUBSCRIPTION_LEVEL), [r.verdict.value for r in results])

    def subscriptions(self) -> Any:
        """What the report's ``subscriptions`` holds: the ``Spilled`` texts, or the dicts in frame order."""
        if self.spilled is not None:
            self.spilled.seal()
            return self.spilled
        return [entry for _, entry in sorted(self.dicts, key=lambda e: e[0])]

    @staticmethod
    def merged(parts: Sequence[Kept]) -> Any:
        """The subscriptions of several shares of one capture, as one report holds them."""
        spilled = [k.spilled for k in parts if k.spilled is not None]
        if spilled:
            return Spilled.merge(spilled)
        return [entry for _, entry in sorted((e for k in parts for e in k.dicts), key=lambda e: e[0])]


def audit_file(
    path: str | Path,
    settings: AuditSettings,
    messages: bool = False,
    watch: Callable[[Any], None] | None = None,
    lean: bool = False,
) -> dict[str, Any]:
    """Audit one capture file (``messages``: keep each subscription's messages, for ladders). Raises
    ``CaptureError`` when the file is unusable. ``watch`` gets the reader first (for a progress display).
    ``lean``: subscriptions kept as compressed JSON text (``Kept``), not dicts (a report writer's choice:
    they take a fraction of the memory and only ``json_text`` copies them out as they are). One process judges;
    a Dask cluster judges a large capture in shares (``analyzer/fleet``)."""
    from analyzer.sources import CaptureReader, FieldsReader  # kept off the sans-IO import path

    reader: CaptureReader | FieldsReader
    if settings.reader == "pyshark":
        reader = CaptureReader(path, decode_as=settings.decode_as, keylog=settings.keylog)
    else:
        reader = FieldsReader(path, decode_as=settings.decode_as, keylog=settings.keylog)
    if watch is not None:
        watch(reader)
    kept = Kept(lean, messages)
    capture, _ = judge_stream(reader, settings, kept)
    return {
        "file": str(path),
        "packets": reader.packets,
        "sip_messages": reader.sip_messages,
        "errors": list(reader.errors),
        "subscriptions": kept.subscriptions(),
        "verdicts": [r.to_json() for r in capture],
    }


def unusable(path: str | Path, reason: str) -> dict[str, Any]:
    """The entry of a file that could not be read at all."""
    return {
        "file": str(path),
        "packets": 0,
        "sip_messages": 0,
        "errors": [reason],
        "subscriptions": [],
        "verdicts": [],
    }


def document(captures: list[dict[str, Any]], engine: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole JSON report (its schema: ``analyzer/schemas/audit.schema.json``), with the verdict summary
    and, given one, where the audit ran (``engine``: ``analyzer.fleet.cluster.Engine.describe``)."""
    summary: dict[str, Any] = dict.fromkeys(VERDICT_WORDS, 0)
    for cap in captures:
        subs = cap["subscriptions"]
        if isinstance(subs, list):
            for sub in subs:
                for v in sub["verdicts"]:
                    summary[v["verdict"]] += 1
        else:  # spilled: counted as they were judged, no text read
            for word, n in subs.counts.items():
                summary[word] += n
        for v in cap["verdicts"]:
            summary[v["verdict"]] += 1
    if engine is not None:
        summary["engine"] = dict(engine)
    return {
        "tool": "fks",
        "version": __version__,
        "catalogue": CATALOGUE_VERSION,
        "schema": SCHEMA_ID,
        "captures": captures,
        "summary": summary,
    }


def verdicts_of(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every verdict of a capture's audit: its subscriptions' and then its capture-scope ones (the one place
    that knows where a capture entry keeps them)."""
    return [v for s in capture["subscriptions"] for v in s["verdicts"]] + list(capture["verdicts"])


def worst_by_rule(capture: Mapping[str, Any]) -> dict[str, str]:
    """Rule ID -> worst verdict over the whole capture (``not_applicable`` when the rule never fired)."""
    fired: dict[str, list[Verdict]] = {r.id: [] for r in CATALOGUE}
    for v in verdicts_of(capture):
        fired[v["rule"]].append(Verdict(v["verdict"]))
    return {rule: worst(verdicts).value for rule, verdicts in fired.items()}
