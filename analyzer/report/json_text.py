"""The JSON report written fast, byte for byte what ``json.dumps(doc, indent=2)`` writes.

On Python before 3.13 ``json`` encodes with ``indent`` in pure Python, through nested generators: on a dense
capture (every message feature sync) that took a third of the audit. This encoder builds each subscription
as one string with plain recursion and the C string escaper, and writes a verdict straight from its
``Result`` (``SubscriptionEntry`` keeps them), the rendered text of a ``Result`` shared by many
subscriptions (``audit.Shared``) made once. The report is still yielded a subscription at a time, so a site's
audit is never one string in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii as _string
from typing import Any

from analyzer.dialogs import Subscription
from analyzer.spilled import Spilled
from analyzer.verdicts import Result

INDENT = "  "
SUBSCRIPTION_LEVEL = 4  # a subscription's nesting in the report: {"captures": [{"subscriptions": [HERE]}]}


class SubscriptionEntry(Mapping[str, Any]):
    """A subscription of the JSON document without messages, its verdicts kept as ``Result``s: what this
    encodes straight from them (``audit.Kept``); it reads like the dict ``audit.subscription_json`` makes,
    which it equals."""

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


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


def _key(key: object) -> str:
    """A mapping key as ``json`` writes it: a string as is, a number, bool or None as its text, quoted."""
    if isinstance(key, str):
        return _string(key)
    text = _scalar(key) if key is None or isinstance(key, int | float) else None
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
    return f'"{text}"'


def _scalar(value: object) -> str | None:
    """A leaf's text, or None for a container."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _encode(value: object, level: int, out: list[str]) -> None:
    """Append ``value`` as ``json.dumps(indent=2)`` writes it at nesting ``level``."""
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    if isinstance(value, Result):
        out.append(_result(value, level))
        return
    if isinstance(value, Mapping):
        items = list(value.items()) if not isinstance(value, SubscriptionEntry) else list(_entry_items(value))
        if not items:
            out.append("{}")
            return
        inner = "\n" + INDENT * (level + 1)
        out.append("{")
        for n, (key, item) in enumerate(items):
            out.append((inner if n == 0 else "," + inner) + _key(key) + ": ")
            _encode(item, level + 1, out)
        out.append("\n" + INDENT * level + "}")
        return
    if isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + INDENT * (level + 1)
        out.append("[")
        for n, item in enumerate(value):
            out.append(inner if n == 0 else "," + inner)
            _encode(item, level + 1, out)
        out.append("\n" + INDENT * level + "]")
        return
    raise TypeError(f"{type(value).__name__} is not JSON")


def _entry_items(entry: SubscriptionEntry) -> Iterator[tuple[str, Any]]:
    """A subscription entry's fields, its verdicts left as ``Result``s (rendered by ``_result``)."""
    for key in entry:
        yield key, (entry.results if key == "verdicts" else entry[key])


_rendered: dict[tuple[int, int], tuple[Result, str]] = {}  # (id, level) -> the Result (kept alive) and its text


def _result(result: Result, level: int) -> str:
    """``Result.to_json()`` as JSON text at ``level``; a shared Result's text is made once."""
    key = (id(result), level)
    done = _rendered.get(key)
    if done is not None and done[0] is result:
        return done[1]
    inner = "\n" + INDENT * (level + 1)
    frames = result.frames
    if not frames:
        listed = "[]"
    elif all(type(f) is int for f in frames):
        item = "\n" + INDENT * (level + 2)
        listed = "[" + item + ("," + item).join(map(int.__repr__, frames)) + inner + "]"
    else:
        listed = encode(list(frames), level + 1)
    parts = [
        "{",
        inner,
        '"rule": ',
        _string(result.rule),
        ",",
        inner,
        '"verdict": ',
        _string(result.verdict.value),
        ",",
        inner,
        '"frames": ',
        listed,
        ",",
        inner,
        '"detail": ',
        _string(result.detail),
    ]
    if result.expected:
        parts += [",", inner, '"expected": ', _string(result.expected)]
    if result.observed:
        parts += [",", inner, '"observed": ', _string(result.observed)]
    parts.append("\n" + INDENT * level + "}")
    text = "".join(parts)
    if len(_rendered) >= 4096:
        _rendered.clear()
    _rendered[key] = (result, text)
    return text


def encode(value: object, level: int = 0) -> str:
    """``value`` as ``json.dumps(value, indent=2)`` writes it when it sits at nesting ``level``."""
    out: list[str] = []
    _encode(value, level, out)
    return "".join(out)


def iter_document(doc: Mapping[str, Any]) -> Iterator[str]:
    """The report document in pieces: each subscription one piece, the rest around them."""
    yield from _pieces(doc, 0)


def _pieces(value: object, level: int) -> Iterator[str]:
    """``value`` in pieces: dicts and lists of mappings (captures, subscriptions) are split, anything else
    (a subscription entry among them) is encoded whole."""
    if isinstance(value, dict) and value:
        inner = "\n" + INDENT * (level + 1)
        yield "{"
        for n, (key, item) in enumerate(value.items()):
            yield (inner if n == 0 else "," + inner) + _key(key) + ": "
            yield from _pieces(item, level + 1)
        yield "\n" + INDENT * level + "}"
    elif isinstance(value, list) and value and isinstance(value[0], Mapping):
        inner = "\n" + INDENT * (level + 1)
        yield "["
        for n, item in enumerate(value):
            yield inner if n == 0 else "," + inner
            yield from _pieces(item, level + 1)
        yield "\n" + INDENT * level + "]"
    elif isinstance(value, Spilled) and len(value):
        if level + 1 != SUBSCRIPTION_LEVEL:
            raise ValueError(f"spilled subscriptions encoded for level {SUBSCRIPTION_LEVEL}, not {level + 1}")
        inner = "\n" + INDENT * (level + 1)
        yield "["
        for n, text in enumerate(value.texts()):
            yield (inner if n == 0 else "," + inner) + text
        yield "\n" + INDENT * level + "]"
    elif isinstance(value, Spilled):
        yield "[]"
    else:
        yield encode(value, level)
