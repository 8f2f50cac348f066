"""Audit a capture: read it (``capture``), rebuild its dialogs (``dialogs``), judge them (``rules``).

The result is the plain-data form of the JSON report (``analyzer/schemas/audit.schema.json``), so it crosses
process boundaries (a Dask cluster's workers, ``analyzer/fleet``) and every report format renders from the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from analyzer import __version__
from analyzer.dialogs import Subscription
from analyzer.judging import AuditSettings, judge_stream
from analyzer.observation import Observation
from analyzer.rules import CATALOGUE, Judgement
from analyzer.rules.base import CATALOGUE_VERSION, Options
from analyzer.schema import SCHEMA_ID
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


class SubscriptionEntry(Mapping[str, Any]):
    """A subscription of the JSON document without messages, its verdicts turned into dicts only when read.

    A site's capture has tens of thousands of subscriptions and two dozen verdicts each: held as dicts they
    would outweigh the audit itself. This keeps the ``Result`` objects (identical ones shared) and reads
    like the dict ``subscription_json`` makes, which it equals."""

    __slots__ = ("_head", "_results")
    _KEYS = ("aor", "call_id", "client", "server", "verdicts")

    def __init__(self, sub: Subscription, results: Sequence[Result]) -> None:
        self._head = (sub.aor, sub.call_id, str(sub.client), str(sub.server))
        self._results = tuple(results)

    def __getitem__(self, key: str) -> Any:
        if key == "verdicts":
            return [r.to_json() for r in self._results]
        try:
            return self._head[self._KEYS.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    @property
    def results(self) -> tuple[Result, ...]:
        """The verdicts as ``Result``s (what the JSON writer reads, without the dicts)."""
        return self._results

    def __len__(self) -> int:
        return len(self._KEYS)

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries (Dask workers) as it is
        return (_entry, (self._head, self._results))


def _entry(head: tuple[str, str, str, str], results: tuple[Result, ...]) -> SubscriptionEntry:
    entry = SubscriptionEntry.__new__(SubscriptionEntry)
    entry._head, entry._results = head, results
    return entry


class Shared:
    """Identical results (the same rule, verdict, detail and frames: most ``not_applicable`` ones) stored once."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], Result] = {}

    def __call__(self, results: Sequence[Result]) -> tuple[Result, ...]:
        out = []
        for r in results:
            if r.extra:
                out.append(r)
                continue
            key = (r.rule, r.verdict, r.detail, r.frames, r.expected, r.observed)
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


class Convert:
    """A judged subscription as the audit keeps it: a compact entry, or the dict (with messages for ladders)."""

    def __init__(self, lean: bool, messages: bool) -> None:
        self.lean, self.messages = lean and not messages, messages
        self.shared = Shared()

    def __call__(self, sub: Subscription, results: tuple[Result, ...]) -> Mapping[str, Any]:
        if self.lean:
            return SubscriptionEntry(sub, self.shared(results))
        return subscription_json(sub, results, self.messages)


def audit_file(
    path: str | Path,
    settings: AuditSettings,
    messages: bool = False,
    watch: Callable[[Any], None] | None = None,
    lean: bool = False,
) -> dict[str, Any]:
    """Audit one capture file (``messages``: keep each subscription's messages, for ladders). Raises
    ``CaptureError`` when the file is unusable. ``watch`` gets the reader first (for a progress display).
    ``lean``: subscriptions as ``SubscriptionEntry`` mappings, not dicts (a report writer's choice: they
    take a fraction of the memory but ``json`` needs ``report.to_json`` to write them). One process judges;
    a Dask cluster judges a large capture in shares (``analyzer/fleet``)."""
    from analyzer.sources import CaptureReader, FieldsReader  # kept off the sans-IO import path

    reader: CaptureReader | FieldsReader
    if settings.reader == "pyshark":
        reader = CaptureReader(path, decode_as=settings.decode_as, keylog=settings.keylog)
    else:
        reader = FieldsReader(path, decode_as=settings.decode_as, keylog=settings.keylog)
    if watch is not None:
        watch(reader)
    convert = Convert(lean, messages)
    subs: list[tuple[int, Mapping[str, Any]]] = []

    def keep(sub: Subscription, results: tuple[Result, ...]) -> None:
        subs.append((sub.first_index, convert(sub, results)))

    capture, _ = judge_stream(reader, settings, keep)
    subs.sort(key=lambda entry: entry[0])
    return {
        "file": str(path),
        "packets": reader.packets,
        "sip_messages": reader.sip_messages,
        "errors": list(reader.errors),
        "subscriptions": [entry for _, entry in subs],
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
        for sub in cap["subscriptions"]:
            if isinstance(sub, SubscriptionEntry):  # counted from its Results, no dicts made
                for r in sub.results:
                    summary[r.verdict.value] += 1
            else:
                for v in sub["verdicts"]:
                    summary[v["verdict"]] += 1
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
