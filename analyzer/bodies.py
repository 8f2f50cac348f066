"""The body of a feature-sync message: framing (FKS-NTF-4) and the documents it carries (FKS-NTF-5, FKS-HS-1).

A NOTIFY carries one ``application/x-as-feature-event+xml`` document or a ``multipart/mixed`` body with one
such part per feature; a change request (SUBSCRIBE) carries exactly one document. ``read_body`` takes a
parsed message apart once; the rules only look at the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.documents import MEDIA_TYPE, DocumentError, FeatureDocument, parse_document, split_concatenated
from analyzer.sip import SipError, SipMessage, parse_multipart
from analyzer.verdicts import Problem, Verdict


@dataclass(frozen=True, slots=True)
class Body:
    """What a message's body holds.

    ``framing`` is "none" (no body), "single", "multipart" or "other" (a media type that is not ours);
    ``documents`` are the feature documents that could be parsed; ``unparsed`` the reasons of those that
    could not (each one a ``fail`` of the XML rules).
    """

    framing: str
    media_type: str | None
    documents: tuple[FeatureDocument, ...] = ()
    unparsed: tuple[str, ...] = ()
    faults: tuple[Problem, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.framing == "none"

    def features(self) -> dict[str, FeatureDocument]:
        """Feature name (DND, CFA, CFB, CFNA) -> the last document reporting it."""
        return {doc.feature: doc for doc in self.documents if doc.feature}


def _parse(data: bytes, documents: list[FeatureDocument], unparsed: list[str]) -> None:
    try:
        documents.append(parse_document(data))
    except DocumentError as exc:
        unparsed.append(str(exc))


def read_body(msg: SipMessage) -> Body:
    """Split ``msg``'s body into feature documents and framing faults (never raises)."""
    if not msg.body.strip():
        return Body("none", msg.content_type[0] if msg.content_type else None)
    ctype = msg.content_type
    if ctype is None:
        return Body("other", None, faults=(Problem(Verdict.FAIL, "body without Content-Type"),))
    media, params = ctype
    documents: list[FeatureDocument] = []
    unparsed: list[str] = []
    faults: list[Problem] = []
    if media == MEDIA_TYPE:
        pieces = split_concatenated(msg.body)
        if len(pieces) > 1:
            faults.append(Problem(Verdict.FAIL, f"{len(pieces)} XML documents concatenated in one {MEDIA_TYPE} body"))
        for piece in pieces:
            _parse(piece, documents, unparsed)
        return Body("single", media, tuple(documents), tuple(unparsed), tuple(faults))
    if media == "multipart/mixed":
        boundary = params.get("boundary")
        if not boundary:
            return Body("multipart", media, faults=(Problem(Verdict.FAIL, "multipart/mixed without a boundary"),))
        try:
            parts = parse_multipart(msg.body, boundary)
        except SipError as exc:
            return Body("multipart", media, faults=(Problem(Verdict.FAIL, str(exc)),))
        if not parts:
            faults.append(Problem(Verdict.FAIL, "multipart/mixed body without parts"))
        for number, part in enumerate(parts, 1):
            if part.content_type != MEDIA_TYPE:
                faults.append(
                    Problem(Verdict.FAIL, f"part {number} is {part.content_type or 'untyped'}, not {MEDIA_TYPE}")
                )
                continue
            _parse(part.body, documents, unparsed)
        return Body("multipart", media, tuple(documents), tuple(unparsed), tuple(faults))
    return Body("other", media, faults=(Problem(Verdict.FAIL, f"Content-Type {media} is not {MEDIA_TYPE}"),))
