"""The SVG ladder diagram: structure, labels, verdict highlighting, retransmissions, escaping, scale."""

from __future__ import annotations

import itertools

from lxml import etree

from analyzer.observation import Endpoint, Observation
from analyzer.report.ladder import COLUMN_WIDTH, ROW_HEIGHT, SVG_NS, ladder_svg
from peers.craft.flows import AS, BASE, MEDIA, Flow, dnd_event, fwd_event, set_dnd

S = f"{{{SVG_NS}}}"
LABELS = {BASE: "Gigaset N870", AS: "BroadWorks AS"}


def parse(svg: str) -> etree._Element:
    root = etree.fromstring(svg.encode())
    assert root.tag == f"{S}svg"
    return root


def messages(root: etree._Element) -> list[etree._Element]:
    return [g for g in root.iter(f"{S}g") if "msg" in (g.get("class") or "").split()]


def row(root: etree._Element, frame: int) -> etree._Element:
    (g,) = [g for g in messages(root) if g.get("data-frame") == str(frame)]
    return g


def texts(el: etree._Element) -> list[str]:
    """Visible text lines of ``el`` (tooltips excluded)."""
    return ["".join(t.itertext()) for t in el.iter(f"{S}text")]


def tooltip(el: etree._Element) -> str:
    title = el.find(f"{S}title")
    assert title is not None
    return title.text or ""


def arrow_y(g: etree._Element) -> float:
    head = g.find(f"{S}polygon")
    assert head is not None
    return float(head.get("points", "").split()[0].split(",")[1])


def session() -> Flow:
    f = Flow()
    f.establish()
    f.at(0.5).notify([dnd_event(True)])
    f.respond()
    return f


def test_one_group_per_observation_in_order_with_frame_and_relative_time() -> None:
    f = session()
    root = parse(ladder_svg(f.observations, labels=LABELS))
    groups = messages(root)
    assert [g.get("data-frame") for g in groups] == [str(o.index) for o in f.observations]
    assert all(g.get("class") == "msg" for g in groups)
    ys = [arrow_y(g) for g in groups]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # top to bottom, one row each
    assert "#1" in texts(groups[0]) and "+0.000 s" in texts(groups[0])
    assert "#5" in texts(groups[4]) and "+0.504 s" in texts(groups[4])  # 4 messages at 1 ms, then 0.5 s


def test_column_headers_carry_labels_and_addresses_in_order_of_appearance() -> None:
    f = Flow()
    f.notify([dnd_event(True)])  # the AS speaks first: its column comes first
    f.respond()
    root = parse(ladder_svg(f.observations, labels={AS: "BroadWorks AS"}))
    headers = [g for g in root.iter(f"{S}g") if g.get("class") == "endpoint"]
    assert [g.get("data-endpoint") for g in headers] == ["198.51.100.20:5060", "192.0.2.10:5060"]
    assert texts(headers[0]) == ["BroadWorks AS", "198.51.100.20:5060"]
    assert texts(headers[1]) == ["192.0.2.10:5060"]  # no label given: the address, once


def test_arrows_go_from_source_to_destination_column() -> None:
    f = session()
    root = parse(ladder_svg(f.observations, labels=LABELS))
    subscribe, ok = row(root, 1), row(root, 2)
    line = subscribe.find(f"{S}line")
    assert line is not None and float(line.get("x1", "0")) < float(line.get("x2", "0"))  # base -> AS
    line = ok.find(f"{S}line")
    assert line is not None and float(line.get("x1", "0")) > float(line.get("x2", "0"))  # AS -> base


def test_labels_show_method_status_and_key_facts() -> None:
    f = Flow()
    f.establish(expires=600)
    f.notify([dnd_event(True)])
    f.subscribe(body=set_dnd(False))
    root = parse(ladder_svg(f.observations))
    assert texts(row(root, 1))[2:] == ["SUBSCRIBE", "Expires: 600"]
    assert texts(row(root, 2))[2] == "200 OK (SUBSCRIBE)"
    full = texts(row(root, 3))[3]
    for fact in ("active;expires=600", "DND off", "CFA off", "CFB off", "CFNA -> 1002 after 4 rings"):
        assert fact in full
    assert "DND on" in texts(row(root, 5))[3]
    assert "set DND off" in texts(row(root, 6))[3]  # a change request, not a state report


def test_fail_and_warn_verdicts_highlight_their_frames() -> None:
    f = session()
    verdicts = [
        {"rule": "FKS-NTF-2", "verdict": "fail", "frames": [3], "detail": "initial NOTIFY lacks CFB"},
        {"rule": "FKS-NTF-5", "verdict": "warn", "frames": [3, 5], "detail": "hyphenless namespace"},
        {"rule": "FKS-SUB-1", "verdict": "pass", "frames": [1], "detail": "fine"},
        {"rule": "FKS-RSP-1", "verdict": "inconclusive", "frames": [2], "detail": "?"},
    ]
    root = parse(ladder_svg(f.observations, verdicts, LABELS))
    notify = row(root, 3)
    assert notify.get("class") == "msg fail"  # the worst verdict decides the colour
    assert notify.get("data-rules", "").split() == ["FKS-NTF-2", "FKS-NTF-5"]
    assert "FKS-NTF-2 fail, FKS-NTF-5 warn" in texts(notify)
    assert "initial NOTIFY lacks CFB" in tooltip(notify) and "hyphenless namespace" in tooltip(notify)
    band = notify.find(f"{S}rect")
    assert band is not None and float(band.get("height", "0")) >= ROW_HEIGHT - 2
    warned = row(root, 5)
    assert warned.get("class") == "msg warn" and warned.get("data-rules") == "FKS-NTF-5"
    assert band.get("fill") != warned.find(f"{S}rect").get("fill")  # red and orange differ
    for frame in (1, 2, 4):  # pass and inconclusive are not drawn
        assert row(root, frame).get("class") == "msg" and row(root, frame).get("data-rules") is None


def test_retransmitted_request_and_response_are_marked() -> None:
    f = Flow()
    f.subscribe()
    f.at(0.5).subscribe(retransmit=True)
    f.respond()
    f.respond()  # the AS answers the retransmission with the same bytes
    f.at(1).subscribe()  # a refresh: new branch, new CSeq, not a retransmission
    root = parse(ladder_svg(f.observations))
    marked = [g.get("data-frame") for g in messages(root) if g.get("data-retransmission") == "true"]
    assert marked == ["2", "4"]
    again = row(root, 2)
    assert "SUBSCRIBE (retransmission)" in texts(again)
    line = again.find(f"{S}line")
    assert line is not None and line.get("stroke-dasharray")
    first = row(root, 1).find(f"{S}line")
    assert first is not None and first.get("stroke-dasharray") is None


def test_same_bytes_from_the_other_side_are_not_a_retransmission() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    copy = f.observations[1]
    obs = [*f.observations, Observation(3, copy.time + 1, copy.dst, copy.src, "udp", copy.data)]
    root = parse(ladder_svg(obs))
    assert row(root, 3).get("data-retransmission") is None


def test_a_message_in_ip_fragments_is_one_arrow_that_says_so() -> None:
    """The packets a message took are a fact of its one arrow (and ``data-wire``); other rows say nothing."""
    f = session()
    note = "copy 1: 4 IP fragments, fragment 2 of 4 lost \u00b7 copy 2: 4 IP fragments"
    root = parse(ladder_svg(f.observations, wire={3: note}))
    assert len(messages(root)) == len(f.observations)
    fragmented = row(root, 3)
    assert fragmented.get("data-wire") == note
    assert "4 IP fragments" in " ".join(texts(fragmented)) and note in tooltip(fragmented)
    assert [g.get("data-frame") for g in messages(root) if g.get("data-wire")] == ["3"]


def test_wire_markup_is_text_never_elements() -> None:
    f = Flow()
    f.notify([fwd_event("forwardImmediate", True, "<script>alert(1)</script>")])
    f.notify(raw_body=(MEDIA, b"<script>alert(1)</script>"))
    f.notify(raw_body=("text/html", b"<script>alert(1)</script>"))
    f.notify(state='active;x="<script>alert(1)</script>"')
    hostile = {AS: "<script>alert(1)</script>", BASE: 'x" onload="alert(1)'}
    svg = ladder_svg(f.observations, labels=hostile, title="<script>alert(1)</script>")
    root = parse(svg)
    assert not [el for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == "script"]
    assert all(not name.startswith("on") for el in root.iter() for name in el.attrib)
    assert "CFA -> <script>alert(1)</script>" in texts(row(root, 1))[3]
    assert any("<script>" in t for t in texts(root))
    assert "href" not in svg and "url(" not in svg  # self-contained


def test_garbage_and_control_characters_do_not_raise() -> None:
    f = Flow()
    f.subscribe()
    src, dst = f.observations[0].src, f.observations[0].dst
    obs = [
        *f.observations,
        Observation(2, 1001.0, src, dst, "udp", b"\x00\x01\xffgarbage\x07"),
        Observation(3, 1002.0, src, dst, "udp", b"\r\n\r\n"),
        Observation(4, 1003.0, src, dst, "udp", b""),
    ]
    f2 = Flow()
    f2.notify([dnd_event(True)], state="active;\x01\x0bweird\x00")  # bytes XML 1.0 cannot carry
    obs.append(Observation(5, 1004.0, dst, src, "udp", f2.observations[0].data))
    root = parse(ladder_svg(obs))
    assert len(messages(root)) == 5
    assert "unparsable (11 bytes)" in texts(row(root, 2))
    assert "unparsable (4 bytes, CRLF keep-alive)" in texts(row(root, 3))
    assert "unparsable (0 bytes)" in texts(row(root, 4))
    assert "DND on" in texts(row(root, 5))[3]


def test_empty_ladder_is_valid_svg() -> None:
    root = parse(ladder_svg([], title="nothing"))
    assert messages(root) == [] and "no messages" in texts(root)


def test_four_hundred_messages_scroll_instead_of_shrinking() -> None:
    f = Flow()
    for _ in range(100):
        f.establish([dnd_event(True)])
    assert len(f.observations) == 400
    small = parse(ladder_svg(session().observations))
    big = parse(ladder_svg(f.observations, [{"rule": "FKS-X", "verdict": "warn", "frames": [399], "detail": ""}]))
    assert len(messages(big)) == 400
    assert float(big.get("height", "0")) >= 400 * ROW_HEIGHT
    assert big.get("viewBox", "").split()[3] == big.get("height")  # drawn at 1:1, not scaled down
    ys = [arrow_y(g) for g in messages(big)]
    assert all(b - a == ROW_HEIGHT for a, b in itertools.pairwise(ys))
    assert texts(messages(big)[-1])[2] == texts(messages(small)[3])[2] == "200 OK (NOTIFY)"
    assert row(big, 399).get("class") == "msg warn"
    assert len([g for g in big.iter(f"{S}g") if g.get("class") == "endpoint footer"]) == 2  # headers repeated


def test_width_grows_with_columns() -> None:
    f = session()
    third = Endpoint("203.0.113.5", 5060)
    extra = Observation(99, 2000.0, AS, third, "udp", f.observations[0].data)
    two = parse(ladder_svg(f.observations))
    three = parse(ladder_svg([*f.observations, extra]))
    assert float(three.get("width", "0")) - float(two.get("width", "0")) >= COLUMN_WIDTH - 1


def test_fonts_are_generic_and_nothing_external() -> None:
    svg = ladder_svg(session().observations, labels=LABELS)
    root = parse(svg)
    assert root.get("font-family") == "monospace"
    assert {el.get("font-family") for el in root.iter() if el.get("font-family")} == {"monospace"}
    tags = {etree.QName(el).localname for el in root.iter() if isinstance(el.tag, str)}
    assert tags <= {"svg", "title", "g", "rect", "text", "line", "path", "polygon"}
