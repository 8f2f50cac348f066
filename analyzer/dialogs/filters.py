"""Which messages are feature sync, told cheaply: from raw bytes (``irrelevant``, ``claims_feature_sync``)
or from a parsed SUBSCRIBE (``is_feature_subscribe``)."""

from __future__ import annotations

import re

from analyzer.sip import SipMessage
from analyzer.sip.peek import peek_cseq_method
from analyzer.vocab import MEDIA_TYPE, PACKAGE

# The cheap look at raw bytes that lets the engine skip what is certainly not feature sync (``irrelevant``).
_START = re.compile(rb"(?:([A-Z]+) (\S+) SIP/2\.0|SIP/2\.0 \d{3} )")
_OURS = re.compile(re.escape(PACKAGE.encode()), re.I)
# What makes an unparsable message feature sync: its own start line (a SUBSCRIBE or NOTIFY) and one of its
# header lines (an Event of the package, or the package's media type), never the name elsewhere (an
# Allow-Events list, a body, framing bytes before the start line).
_CLAIM_START = re.compile(rb"(?:SUBSCRIBE|NOTIFY)(?:[ \t]|\r?\n|$)", re.I)
_CLAIM_HEADER = re.compile(
    rb"^(?:(?:event|o)[ \t]*:[ \t]*%b\b|(?:content-type|c)[ \t]*:[ \t]*%b)"
    % (re.escape(PACKAGE.encode()), re.escape(MEDIA_TYPE.encode())),
    re.I | re.M,
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def claims_feature_sync(data: bytes) -> bool:
    """Whether an unparsable message shows, by its start line and headers, that it is feature sync."""
    head = _HEAD_END.split(data[:4096], maxsplit=1)[0]
    return bool(_CLAIM_START.match(head)) and _CLAIM_HEADER.search(head) is not None


_SERVICE_CODE = re.compile(rb"(?:sips?|tel):(?:\*|#|%2a|%23)", re.I)


def is_feature_subscribe(msg: SipMessage) -> bool:
    """Whether a SUBSCRIBE belongs to this package (or pretends to, by its media types)."""
    event = msg.event
    if event is not None and event[0] == PACKAGE:
        return True
    accepts = [a.split(";")[0].strip().lower() for a in msg.headers.get_all("Accept")]
    ctype = msg.content_type
    return MEDIA_TYPE in accepts or (ctype is not None and ctype[0] == MEDIA_TYPE)


def irrelevant(data: bytes) -> bool | None:
    """Most SIP at a site is not feature sync: tell it from the raw bytes, without parsing, when that is
    certain (a well-formed start line; a method or CSeq the engine has no use for). None: a SUBSCRIBE or
    NOTIFY of another package, which matters only when its Call-ID is a feature-sync dialog's (the engine
    knows). Doubtful messages are parsed."""
    start = _START.match(data)
    if start is None:
        return False  # not obviously SIP: the parser decides (and keeps what claims feature sync)
    method = start.group(1)
    if method is None:  # a response: only those to SUBSCRIBE, NOTIFY and REGISTER are filed
        cseq = peek_cseq_method(data)
        return cseq is not None and cseq not in ("SUBSCRIBE", "NOTIFY", "REGISTER")
    if method == b"REGISTER":
        return False
    if method == b"INVITE":  # only calls to service codes (feature access codes) are kept
        return _SERVICE_CODE.match(start.group(2)) is None
    if method not in (b"SUBSCRIBE", b"NOTIFY"):
        return True
    return False if _OURS.search(data) else None
