"""What a sans-IO peer asks its transport to send."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.observation import Endpoint


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send; ``request`` marks those a UDP transport retransmits until answered (RFC 3261 17.1)."""

    data: bytes
    dst: Endpoint
    request: bool = False
    branch: str | None = None  # the request's top Via branch, when the builder knows it (saves a parse)
