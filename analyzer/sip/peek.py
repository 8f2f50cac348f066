"""Header values read from raw bytes without parsing the whole message, for hot paths: the engine's filter,
the partitioned audit's routing (every message of a subscriber to one worker), a storm, one log line per
message.

Each peek returns what ``parse_message`` gives for the same bytes, so a message is never routed or filtered
by something the parser disagrees with. The head ends where the parser ends it (the first blank line, CRLF
or bare LF), lines end in LF with or without a CR, names are matched in any case and compact form, folded
lines are joined, and the value is read by the parser's own helpers (``NameAddr``, ``parse_params``,
``split_commas``). Only the lines holding the wanted header are decoded; a regular expression finds them.
On bytes that are not SIP (the parser raises) a peek still answers from the header lines it finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from analyzer.sip.address import uri_user
from analyzer.sip.headers import is_number, parse_params, split_commas

# What the parser's ``str.strip`` removes around a header name in ASCII; a name line may not start with a
# space or tab (that is a folded continuation of the header before).
_TOKEN_CHARS = rb"A-Za-z0-9.!%*_+`'~\-"
_NAME_LINE = re.compile(rb"\n[" + _TOKEN_CHARS + rb"]+[\t\x0b\x0c\r\x1c-\x1f ]*:")


def _finder(names: str) -> re.Pattern[bytes]:
    """Candidate lines for a header: the name between runs of non-token bytes (checked to be whitespace
    afterwards: the parser strips them, and any other byte makes the line malformed), the rest of the line,
    and whether a plain header line follows (then the value is not folded)."""
    around = rb"[^\n:" + _TOKEN_CHARS + rb"]"
    lead = rb"[^\n:\t " + _TOKEN_CHARS + rb"]"
    name = rb"(?:" + names.encode("ascii") + rb")"
    rest = rb"(?P<value>[^\n]*)(?P<next>" + _NAME_LINE.pattern + rb")?"
    return re.compile(
        rb"\n(?P<pre>(?:" + lead + around + rb"*)?)" + name + rb"(?P<post>" + around + rb"*):" + rest, re.I
    )


_CALL_ID = _finder("call-id|i")
_CSEQ = _finder("cseq")
_FROM = _finder("from|f")
_TO = _finder("to|t")
_VIA = _finder("via|v")


class _Head:
    """Where the parser's header lines are in ``data``, and how it decodes them."""

    __slots__ = ("_text", "data", "end", "start")

    def __init__(self, data: bytes) -> None:
        self.data = data
        crlf = data.find(b"\r\n\r\n")
        lf = data.find(b"\n\n")
        if crlf >= 0 and (lf < 0 or crlf < lf):
            self.end = crlf
        else:
            self.end = lf if lf >= 0 else len(data)
        self._text: bool | None = None  # whether the head is UTF-8 (the parser's first choice), when asked
        self.start = self._start_line_end()

    def decode(self, raw: bytes) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        if self._text is None:
            try:
                self.data[: self.end].decode("utf-8")
                self._text = True
            except UnicodeDecodeError:
                self._text = False
        return raw.decode("utf-8") if self._text else raw.decode("latin-1")

    def _start_line_end(self) -> int:
        """The offset of the LF ending the start line (the first line that is not blank), or ``end``."""
        pos = 0
        while pos < self.end:
            nl = self.data.find(b"\n", pos, self.end)
            stop = self.end if nl < 0 else nl
            first = self.data[pos : pos + 1]
            if first.isalnum() or self.decode(self.data[pos:stop]).strip():
                return stop
            pos = stop + 1
        return self.end

    def values(self, finder: re.Pattern[bytes]) -> Iterator[str]:
        """Every value of the header ``finder`` names, in order, as the parser stores it."""
        pos = self.start
        while True:
            found = finder.search(self.data, pos, self.end)
            if found is None:
                return
            pos = found.start("value")
            if (found["pre"] or found["post"]) and self.decode(found["pre"] + found["post"]).strip():
                continue  # another byte beside the name: not this header (or not a header at all)
            yield self._value(pos)

    def _value(self, colon_end: int) -> str:
        data, end = self.data, self.end
        line_end = data.find(b"\n", colon_end, end)
        if line_end < 0:
            return self.decode(data[colon_end:end]).strip()
        value = self.decode(data[colon_end:line_end]).strip()
        while line_end < end and not _NAME_LINE.match(data, line_end, end):
            nxt = data.find(b"\n", line_end + 1, end)
            stop = end if nxt < 0 else nxt
            line = self.decode(data[line_end + 1 : stop]).rstrip("\r")
            if line and line[0] in " \t":
                value = f"{value} {line.strip()}"  # folded: the parser joins it with one space
            elif line:
                name, colon, _ = line.partition(":")
                if colon and _is_name(name.strip()):
                    break  # the next header
                # a malformed line: the parser skips it, and a folded line after it still continues ours
            line_end = stop
        return value


_TOKEN = re.compile(rb"[" + _TOKEN_CHARS + rb"]+")


def _is_name(name: str) -> bool:
    return name.isascii() and _TOKEN.fullmatch(name.encode("ascii")) is not None


def _first(data: bytes, finder: re.Pattern[bytes]) -> str | None:
    """The first value of a header. Most messages take the quick way: the start line first, the header's
    line plain ASCII with a plain name, the next line another header; anything else is read line by line."""
    found = finder.search(data)
    if found is None:
        return None
    pre, post, raw, following = found.group(1, 2, 3, 4)
    colon = found.start(3)
    if data.find(b"\n\n", 0, colon) >= 0 or data.find(b"\r\n\r\n", 0, colon) >= 0:
        return None  # past the head: this and any later line are body
    if following and not pre and not post and raw.isascii() and data[:1].isalnum():
        return raw.decode("ascii").strip()
    return next(_Head(data).values(finder), None)


def peek_call_id(data: bytes) -> str | None:
    value = _first(data, _CALL_ID)
    return value.strip() if value is not None else None


def peek_cseq_method(data: bytes) -> str | None:
    """The CSeq's method, upper case; None when the CSeq is absent or malformed (as the parser says)."""
    value = _first(data, _CSEQ)
    if value is None:
        return None
    parts = value.split()
    return parts[1].upper() if len(parts) == 2 and is_number(parts[0]) else None


_SIP_USER = re.compile(r"sip:([A-Za-z0-9._~+-]+)@")


def _user(value: str | None) -> str | None:
    """``NameAddr.parse(value).user`` without parsing the parameters nobody asked for (the tests hold the
    two equal); None where that parse fails (an unterminated ``<``)."""
    if value is None:
        return None
    lt = value.find("<")
    if lt < 0:
        return uri_user(parse_params(value)[0])
    gt = value.find(">", lt)
    if gt < 0:
        return None
    usual = _SIP_USER.match(value, lt + 1, gt)  # what uri_user reads from a plain sip: URI
    return usual.group(1) if usual is not None else uri_user(value[lt + 1 : gt])


def peek_from_user(data: bytes) -> str | None:
    return _user(_first(data, _FROM))


def peek_to_user(data: bytes) -> str | None:
    return _user(_first(data, _TO))


# A Via value of the usual form, its branch the only parameter: what ``parse_params`` reads from it is the group.
_PLAIN_VIA = re.compile(r"SIP/2\.0/[A-Z]+ [A-Za-z0-9.:\[\]-]+;branch=([A-Za-z0-9._~+!%*`'-]+)")


def plain_branch(via: str) -> str | None:
    """The branch of one Via value of the usual form (``SIP/2.0/UDP host:port;branch=...``), else None (the
    caller then parses it)."""
    found = _PLAIN_VIA.fullmatch(via)
    return found.group(1) if found is not None else None


def peek_branch(data: bytes) -> str | None:
    """The top Via's branch parameter: the first entry of the first Via header that has one."""
    first = _first(data, _VIA)
    if first is not None and (plain := plain_branch(first)) is not None:
        return plain
    entries = split_commas(first) if first is not None else []
    if entries:
        return parse_params(entries[0])[1].get("branch")
    for value in _Head(data).values(_VIA):
        entries = split_commas(value)
        if entries:
            return parse_params(entries[0])[1].get("branch")
    return None
