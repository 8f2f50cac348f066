"""A SIP ladder diagram (call flow, as Wireshark's flow graph or sngrep draw it) as one self-contained SVG string.

Why: a verdict names frames, and a SIP engineer judges frames in the order of the exchange. The ladder draws one
row per observed message between one lifeline per endpoint, dashes retransmissions and paints the rows that a
``fail`` or ``warn`` verdict names, so a report shows the evidence where it happened.

Decisions:

- Sans-IO and deterministic: observations and JSON-form verdicts in, SVG text out.
- Built with lxml, so every string from the wire is escaped; characters XML cannot carry become U+FFFD.
- Presentation attributes only: no ``<style>``, no script, no ids, no ``url(#...)`` or other reference, generic
  ``monospace`` font. Several ladders can be inlined in one HTML page without CSS leaking or ids clashing.
- Fixed row height: the picture grows with the capture (scroll), it never shrinks its text. A label too long
  for its row is cut with an ellipsis; the row's tooltip (``<title>``) holds the full text and verdict details.
- Each row is ``<g class="msg [fail|warn]" data-frame="N" [data-rules="ID ..."]>`` for reports and tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from analyzer.bodies import read_body
from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipError, SipMessage, parse_message
from analyzer.vocab import PACKAGE

__all__ = ["COLUMN_WIDTH", "ROW_HEIGHT", "SVG_NS", "ladder_svg"]

SVG_NS = "http://www.w3.org/2000/svg"
ROW_HEIGHT = 44
COLUMN_WIDTH = 260
MARGIN_LEFT = 110  # frame number and relative time
MIN_WIDTH = 640
BOX_HEIGHT = 40  # endpoint header box
FOOTER_AFTER = 15  # repeat the endpoint headers at the bottom of ladders longer than this many rows
CHAR_EM = 0.62  # advance of a monospace glyph in em, a little generous
LABEL_SIZE = 12
FACT_SIZE = 10
NOTE_SIZE = 11
INK = "#263238"
LIFELINE = "#9e9e9e"
# verdict -> (ink for arrow and note, fill of the background band)
COLOURS = {"fail": ("#c62828", "#e53935"), "warn": ("#e65100", "#fb8c00")}
_SEVERITY = {"warn": 1, "fail": 2}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_HALO = {"stroke": "#ffffff", "stroke-width": "3", "stroke-linejoin": "round", "paint-order": "stroke"}


@dataclass
class _Mark:
    """What the fail/warn verdicts say about one frame."""

    verdict: str = "warn"
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # "FKS-NTF-2 fail"
    details: list[str] = field(default_factory=list)  # "FKS-NTF-2 fail: reason"

    def add(self, rule: str, verdict: str, detail: str) -> None:
        if _SEVERITY[verdict] > _SEVERITY[self.verdict]:
            self.verdict = verdict
        if rule not in self.rules:
            self.rules.append(rule)
        note = f"{rule} {verdict}"
        if note not in self.notes:
            self.notes.append(note)
        line = f"{note}: {detail}" if detail else note
        if line not in self.details:
            self.details.append(line)


@dataclass(frozen=True, slots=True)
class _Row:
    obs: Observation
    label: str  # "SUBSCRIBE", "200 OK (SUBSCRIBE)", "unparsable (12 bytes)"
    facts: str  # "Expires: 3600 · DND on"
    start_line: str
    retransmission: bool
    wire: str = ""  # how the message crossed the wire, when said ("3 IP fragments")


def _clean(text: str) -> str:
    """One line of text XML can carry: control characters replaced, white space runs collapsed."""
    return " ".join(_NOT_XML.sub("\ufffd", text).split())


def _num(value: float) -> str:
    """A coordinate or opacity as SVG text: ``120``, ``647.5``, ``0.03``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _fit(text: str, width: float, size: int) -> str:
    """``text`` cut with an ellipsis to what ``width`` pixels of monospace at ``size`` px can show."""
    room = max(int(width / (size * CHAR_EM)), 4)
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def _text_width(text: str, size: int) -> float:
    return len(text) * size * CHAR_EM


def _marks(verdicts: Iterable[Mapping[str, Any]]) -> dict[int, _Mark]:
    """Frame -> what the fail/warn verdicts naming it say; other verdicts are not drawn."""
    out: dict[int, _Mark] = {}
    for v in verdicts:
        raw = v.get("verdict")
        verdict = str(getattr(raw, "value", raw) or "").lower()  # a Verdict enum or its JSON word
        if verdict not in _SEVERITY:
            continue
        rule = _clean(str(v.get("rule") or "?"))
        detail = _clean(str(v.get("detail") or ""))
        for frame in v.get("frames") or ():
            try:
                index = int(frame)
            except (TypeError, ValueError):
                continue
            out.setdefault(index, _Mark()).add(rule, verdict, detail)
    return out


def _facts(msg: SipMessage) -> list[str]:
    """The second line of a row: Expires, Subscription-State, a foreign Event, the feature states of the body."""
    facts: list[str] = []
    event = msg.event
    if event is not None and event[0] != PACKAGE:
        facts.append(f"Event: {event[0]}")
    expires = msg.headers.get("Expires")
    if expires is not None:
        facts.append(f"Expires: {expires.strip()}")
    state = msg.headers.get("Subscription-State")
    if state is not None:
        facts.append(state.strip())
    body = read_body(msg)
    for doc in body.documents:
        facts.append(("set " if doc.kind == "request" else "") + doc.summary())
    if body.unparsed:
        count = len(body.unparsed)
        facts.append(f"{count} unreadable XML document{'s' if count > 1 else ''}")
    if body.framing == "other" and not body.documents:
        facts.append(f"body {body.media_type or 'untyped'} ({len(msg.body)} bytes)")
    return facts


def _rows(observations: Sequence[Observation]) -> list[_Row]:
    """Describe each message once, marking retransmissions (RFC 3261 17: same branch and method from the same
    sender for a request; the very same bytes from the same sender for a response)."""
    seen_requests: set[tuple[str, str, Endpoint]] = set()
    seen_bytes: set[tuple[Endpoint, bytes]] = set()
    rows: list[_Row] = []
    for obs in observations:
        data = bytes(obs.data)
        try:
            msg = parse_message(data)
        except SipError:
            hint = ", CRLF keep-alive" if data and not data.strip(b"\r\n") else ""
            rows.append(_Row(obs, f"unparsable ({len(data)} bytes{hint})", "", "", False))
            continue
        branch = msg.branch
        if msg.method is not None and branch:
            key = (branch, msg.method, obs.src)
            again = key in seen_requests
            seen_requests.add(key)
        else:
            again = (obs.src, data) in seen_bytes
        seen_bytes.add((obs.src, data))
        rows.append(_Row(obs, msg.summary, " \u00b7 ".join(_facts(msg)), msg.start_line, again))
    return [_Row(r.obs, _clean(r.label), _clean(r.facts), _clean(r.start_line), r.retransmission) for r in rows]


def _on_wire(row: _Row, note: str | None) -> _Row:
    """The row with how its message crossed the wire put first among its facts."""
    if not note:
        return row
    facts = " \u00b7 ".join(f for f in (_clean(note), row.facts) if f)
    return _Row(row.obs, row.label, facts, row.start_line, row.retransmission, _clean(note))


def _columns(observations: Sequence[Observation]) -> dict[Endpoint, int]:
    columns: dict[Endpoint, int] = {}
    for obs in observations:
        for ep in (obs.src, obs.dst):
            columns.setdefault(ep, len(columns))
    return columns


def _sub(
    parent: etree._Element, tag: str, attrs: Mapping[str, object] | None = None, text: str | None = None
) -> etree._Element:
    el = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for name, value in (attrs or {}).items():
        el.set(name, _num(value) if isinstance(value, int | float) else str(value))
    if text is not None:
        el.text = text
    return el


def _tooltip(parent: etree._Element, lines: Iterable[str]) -> None:
    _sub(parent, "title", text="\n".join(_NOT_XML.sub("\ufffd", line) for line in lines if line))


def _endpoint_box(parent: etree._Element, ep: Endpoint, label: str, cx: float, top: float, css: str) -> None:
    address = _clean(str(ep))
    g = _sub(parent, "g", {"class": css, "data-endpoint": address})
    _tooltip(g, [label if label == address else f"{label}\n{address}"])
    width = COLUMN_WIDTH - 40
    box = {"x": cx - width / 2, "y": top, "width": width, "height": BOX_HEIGHT, "rx": 4}
    _sub(g, "rect", {**box, "fill": "#eceff1", "stroke": INK})
    centre = {"x": cx, "text-anchor": "middle"}
    if label == address:
        _sub(g, "text", {**centre, "y": top + 25, "font-size": LABEL_SIZE}, _fit(label, width - 10, LABEL_SIZE))
        return
    bold = {**centre, "y": top + 17, "font-size": LABEL_SIZE, "font-weight": "bold"}
    _sub(g, "text", bold, _fit(label, width - 10, LABEL_SIZE))
    _sub(g, "text", {**centre, "y": top + 32, "font-size": FACT_SIZE}, _fit(address, width - 10, FACT_SIZE))


def _arrow(g: etree._Element, x1: float, x2: float, y: float, ink: str, dashed: bool) -> None:
    line = {"stroke": ink, "stroke-width": 1.5, "fill": "none"}
    if dashed:
        line["stroke-dasharray"] = "6 4"
    if x1 == x2:  # a message to itself: a loop right of the lifeline
        _sub(g, "path", {"d": f"M{_num(x1)},{_num(y - 8)} h30 v14 h-26", **line})
        tip = [(x1, y + 6), (x1 + 8, y + 2), (x1 + 8, y + 10)]
    else:
        step = 8 if x2 > x1 else -8
        _sub(g, "line", {"x1": x1, "y1": y, "x2": x2 - step, "y2": y, **line})
        tip = [(x2, y), (x2 - step, y - 4), (x2 - step, y + 4)]
    _sub(g, "polygon", {"points": " ".join(f"{_num(x)},{_num(py)}" for x, py in tip), "fill": ink})


def ladder_svg(
    observations: Sequence[Observation],
    verdicts: Iterable[Mapping[str, Any]] = (),
    labels: Mapping[Endpoint, str] | None = None,
    title: str = "",
    wire: Mapping[int, str] | None = None,
) -> str:
    """The ladder of ``observations`` (in time order) as SVG text, rows named by ``verdicts`` highlighted.

    ``verdicts`` are JSON-form results (``rule``, ``verdict``, ``frames``, ``detail``); only ``fail`` and
    ``warn`` are drawn. ``labels`` names endpoints (default: their ``address:port``). ``wire`` says, per frame,
    how the message crossed the wire when that is news (``3 IP fragments``): one arrow per message, the
    packets it took among its facts, and a ``data-wire`` attribute for reports and tests.
    """
    observations = list(observations)
    marks = _marks(verdicts)
    rows = [_on_wire(row, (wire or {}).get(row.obs.index)) for row in _rows(observations)]
    columns = _columns(observations)
    names = {ep: _clean((labels or {}).get(ep) or str(ep)) for ep in columns}
    title = _clean(title)

    def centre(ep: Endpoint) -> float:
        return MARGIN_LEFT + COLUMN_WIDTH * columns[ep] + COLUMN_WIDTH / 2

    last_lifeline = MARGIN_LEFT + COLUMN_WIDTH * (max(len(columns), 1) - 0.5)
    drawn = {row.obs.index for row in rows}
    note_widths = [_text_width(", ".join(m.notes), NOTE_SIZE) for i, m in marks.items() if i in drawn]
    width = max(
        MIN_WIDTH,
        MARGIN_LEFT + COLUMN_WIDTH * len(columns) + 10,
        last_lifeline + 52 + max(note_widths, default=0),
        _text_width(title, 14) + 20,
    )
    header_top = 34 if title else 10
    rows_top = header_top + BOX_HEIGHT + 14
    rows_bottom = rows_top + ROW_HEIGHT * max(len(rows), 1)
    footer = len(rows) > FOOTER_AFTER
    height = rows_bottom + (BOX_HEIGHT + 18 if footer else 10)

    root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    for name, value in {
        "class": "ladder",
        "width": width,
        "height": height,
        "viewBox": f"0 0 {_num(width)} {_num(height)}",
        "font-family": "monospace",
        "font-size": NOTE_SIZE,
        "role": "img",
        "aria-label": title or "SIP ladder diagram",
    }.items():
        root.set(name, _num(value) if isinstance(value, int | float) else str(value))
    _tooltip(root, [title or "SIP ladder diagram"])
    _sub(root, "rect", {"x": 0, "y": 0, "width": width, "height": height, "fill": "#ffffff"})
    if title:
        _sub(root, "text", {"x": 10, "y": 22, "font-size": 14, "font-weight": "bold", "fill": INK}, title)

    for ep in columns:
        x = centre(ep)
        _sub(root, "line", {"x1": x, "y1": header_top + BOX_HEIGHT, "x2": x, "y2": rows_bottom, "stroke": LIFELINE})
    for ep in columns:
        _endpoint_box(root, ep, names[ep], centre(ep), header_top, "endpoint")
    if not rows:
        _sub(root, "text", {"x": MARGIN_LEFT, "y": rows_top + 26, "fill": INK}, "no messages")

    t0 = observations[0].time if observations else 0.0
    for number, row in enumerate(rows):
        _draw_row(root, row, marks.get(row.obs.index), number, rows_top + ROW_HEIGHT * number, t0, width, centre)

    if footer:
        for ep in columns:
            _endpoint_box(root, ep, names[ep], centre(ep), rows_bottom + 8, "endpoint footer")
    return etree.tostring(root, encoding="unicode")


def _draw_row(
    root: etree._Element,
    row: _Row,
    mark: _Mark | None,
    number: int,
    top: float,
    t0: float,
    width: float,
    centre: Callable[[Endpoint], float],
) -> None:
    obs = row.obs
    attrs = {"class": f"msg {mark.verdict}" if mark else "msg", "data-frame": str(obs.index)}
    if mark:
        attrs["data-rules"] = " ".join(mark.rules)
    if row.retransmission:
        attrs["data-retransmission"] = "true"
    if row.wire:
        attrs["data-wire"] = row.wire
    g = _sub(root, "g", attrs)
    delta = obs.time - t0
    when = f"{0.0 if abs(delta) < 0.0005 else delta:+.3f} s"
    label = row.label + (" (retransmission)" if row.retransmission else "")
    route = f"frame {obs.index}  {when}  {_clean(obs.transport)}  {_clean(str(obs.src))} -> {_clean(str(obs.dst))}"
    _tooltip(g, [*(mark.details if mark else []), route, row.start_line or row.label, row.facts])

    ink = COLOURS[mark.verdict][0] if mark else INK
    if mark:
        band = {"x": 0, "y": top + 1, "width": width, "height": ROW_HEIGHT - 2, "fill": COLOURS[mark.verdict][1]}
        _sub(g, "rect", {**band, "fill-opacity": 0.16})
    elif number % 2:  # zebra stripes keep long ladders readable
        _sub(g, "rect", {"x": 0, "y": top, "width": width, "height": ROW_HEIGHT, "fill": "#000", "fill-opacity": 0.03})

    margin = {"x": MARGIN_LEFT - 12, "text-anchor": "end", "fill": ink}
    _sub(g, "text", {**margin, "y": top + 18, "font-weight": "bold"}, f"#{obs.index}")
    _sub(g, "text", {**margin, "y": top + 33, "font-size": FACT_SIZE}, when)

    x1, x2 = centre(obs.src), centre(obs.dst)
    arrow_y = top + 32
    # Centred over the arrow (a loop: over its lifeline), free to overhang half a column on either side.
    room = abs(x2 - x1) + COLUMN_WIDTH - 20
    text = {"x": (x1 + x2) / 2, "text-anchor": "middle", "fill": ink, **_HALO}
    bold = {**text, "y": top + 13, "font-size": LABEL_SIZE, "font-weight": "bold"}
    _sub(g, "text", bold, _fit(label, room, LABEL_SIZE))
    if row.facts:
        _sub(g, "text", {**text, "y": top + 25, "font-size": FACT_SIZE}, _fit(row.facts, room, FACT_SIZE))
    _arrow(g, x1, x2, arrow_y, ink, row.retransmission)
    if mark:
        note = {
            "x": max(x1, x2) + (40 if x1 == x2 else 12),
            "y": arrow_y + 4,
            "fill": ink,
            "font-weight": "bold",
            **_HALO,
        }
        _sub(g, "text", note, ", ".join(mark.notes))
