"""How the messages of a record crossed the wire, for ladders and the wire scenarios: the AS's shipments
(``peers.io.rawudp.Shipped``, one per copy sent as crafted packets) matched to the messages of a record.

Why: a ladder shows one arrow per message; a message that took several IP fragments, or whose earlier copies
never arrived whole, says so on its arrow, so a reader sees the packets behind the message where it happened.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from analyzer.observation import Observation
from peers.io.rawudp import Shipped


def _worth_saying(shipped: Sequence[Shipped]) -> bool:
    return any(s.shipment.fragments > 1 or not s.shipment.whole for s in shipped)


def record_notes(observations: Sequence[Observation], shipments: Sequence[Shipped]) -> dict[int, str]:
    """Frame -> the copies of that message the AS sent, as the receiver's record shows it arriving once:
    ``copy 1: 3 IP fragments, fragment 2 of 3 lost · copy 2: 3 IP fragments``."""
    by_data: dict[bytes, list[Shipped]] = defaultdict(list)
    for s in shipments:
        by_data[s.data].append(s)
    notes: dict[int, str] = {}
    for obs in observations:
        shipped = by_data.get(bytes(obs.data), [])
        if _worth_saying(shipped):
            notes[obs.index] = " \u00b7 ".join(s.shipment.note() for s in shipped)
    return notes


def sent_notes(attempts: Sequence[Observation], shipments: Sequence[Shipped]) -> dict[int, str]:
    """Frame -> how that copy left, for the AS's own view (``Lab.attempts``: every copy a row of its own)."""
    queue: dict[bytes, list[Shipped]] = defaultdict(list)
    for s in shipments:
        queue[s.data].append(s)
    notes: dict[int, str] = {}
    for obs in attempts:
        copies = queue.get(bytes(obs.data))
        if not copies:
            continue
        shipped = copies.pop(0)
        if _worth_saying([shipped]):
            notes[obs.index] = shipped.shipment.note()
    return notes


def incomplete(shipments: Sequence[Shipped]) -> bool:
    """Whether some copy left without all its packets (the AS's own view then tells more than the record)."""
    return any(not s.shipment.whole for s in shipments)
