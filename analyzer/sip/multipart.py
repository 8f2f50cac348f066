"""``multipart/mixed`` bodies (RFC 2046 section 5.1): the parts of a NOTIFY carrying several documents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from analyzer.sip.headers import HEADER_NAME, Headers, SipError, canonical_name, is_number, parse_params
from analyzer.sip.message import split_head


@dataclass(frozen=True, slots=True)
class Part:
    """One body part: its headers (Content-Type, Content-ID, Content-Length ...) and its bytes."""

    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return parse_params(value)[0].strip().lower() if value else None


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a ``multipart/mixed`` body on ``boundary`` (quoted or not in the header: pass it unquoted).

    Raises ``SipError`` when the boundary never occurs or the body has no closing delimiter.
    """
    if not boundary or len(boundary) > 70:
        raise SipError(f"invalid multipart boundary {boundary!r}")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    pieces = _split(body, delimiter)
    if len(pieces) < 2:
        raise SipError(f"boundary {boundary!r} not found in the body")
    parts: list[Part] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        piece = piece[2:] if piece.startswith(b"\r\n") else piece[1:] if piece.startswith(b"\n") else piece
        head, sep, content = split_head(piece)
        if not sep:
            # A part with no headers at all starts with the blank line itself.
            if piece.startswith((b"\r\n", b"\n")):
                head, content = b"", piece.lstrip(b"\r\n")
            else:
                head, content = piece, b""
        headers = Headers(_part_headers(head))
        declared = headers.get("Content-Length")
        if declared is not None and is_number(declared.strip()) and int(declared) < len(content):
            content = content[: int(declared)]
        parts.append(Part(headers, content))
    if not closed:
        raise SipError(f"multipart body has no closing delimiter --{boundary}--")
    return parts


def _split(body: bytes, delimiter: bytes) -> list[bytes]:
    """``body`` cut at each ``delimiter``, the line end before a delimiter belonging to it (what
    ``re.split(b"(?:\\r?\\n)?" + delimiter)`` does, without a regular expression tried at every byte)."""
    pieces = body.split(delimiter)
    for n in range(len(pieces) - 1):
        piece = pieces[n]
        if piece.endswith(b"\r\n"):
            pieces[n] = piece[:-2]
        elif piece.endswith(b"\n"):
            pieces[n] = piece[:-1]
    return pieces


def _part_headers(head: bytes) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for raw in head.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        if raw[0] in " \t" and items:
            items[-1] = (items[-1][0], items[-1][1] + " " + raw.strip())
            continue
        name, colon, value = raw.partition(":")
        if colon and HEADER_NAME.match(name.strip()):
            items.append((name.strip(), value.strip()))
    return items


def build_multipart(parts: Iterable[Part], boundary: str) -> bytes:
    """Serialise parts into a ``multipart/mixed`` body with ``boundary``."""
    delimiter = f"--{boundary}\r\n".encode("latin-1")
    chunks: list[bytes] = []
    for part in parts:
        head = "".join(f"{canonical_name(n)}: {v}\r\n" for n, v in part.headers)
        chunks += (delimiter, head.encode("latin-1"), b"\r\n", part.body, b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("latin-1"))
    return b"".join(chunks)
