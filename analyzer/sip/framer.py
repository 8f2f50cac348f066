"""Stream framing (RFC 3261 section 18.3): SIP over TCP/TLS cut into messages by their Content-Length."""

from __future__ import annotations

import re

from analyzer.sip.headers import SipError, is_number
from analyzer.sip.message import MAX_MESSAGE_BYTES


class StreamFramer:
    """Cut a byte stream (SIP over TCP/TLS) into messages by their Content-Length (RFC 3261 section 18.3).

    ``feed`` takes whatever a read returned and gives back the complete messages it finished: several per
    read, or one over several reads. CRLF keep-alives between messages are skipped (RFC 5626). A header
    section longer than ``MAX_MESSAGE_BYTES`` or a non-numeric Content-Length raises ``SipError``: the stream
    cannot be resynchronised and the connection should be closed.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    raise SipError("no end of headers within the size limit")
                return out
            length = _stream_content_length(self._buffer[:end])
            total = end + 4 + length
            if total > MAX_MESSAGE_BYTES:
                raise SipError(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
            if len(self._buffer) < total:
                return out
            out.append(self._buffer[:total])
            self._buffer = self._buffer[total:]

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a complete message."""
        return len(self._buffer)


_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)", re.I | re.M)


def _stream_content_length(head: bytes) -> int:
    m = _CONTENT_LENGTH.search(head)
    if m is None:
        return 0  # on a stream a missing Content-Length means no body (FKS-SIP-1 reports the omission)
    value = m.group(1)
    if not is_number(value):
        raise SipError(f"Content-Length {value[:20]!r} is not a number")
    return int(value)
