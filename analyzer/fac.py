"""Feature access codes: which code dialled from the handset sets which feature (deployment data).

The default table is the common one (docs/protocol.md, "Feature access codes"); ``parse_facs`` reads an override such as
``*78=DND:on,*79=DND:off`` from the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analyzer.sip import is_number
from analyzer.vocab import FEATURES


@dataclass(frozen=True, slots=True)
class Fac:
    feature: str  # "DND", "CFA", "CFB", "CFNA"
    on: bool


DEFAULT_FACS: dict[str, Fac] = {
    "*78": Fac("DND", True),
    "*79": Fac("DND", False),
    "*72": Fac("CFA", True),
    "*73": Fac("CFA", False),
    "*90": Fac("CFB", True),
    "*91": Fac("CFB", False),
    "*92": Fac("CFNA", True),
    "*93": Fac("CFNA", False),
}


def match_fac(user: str, facs: Mapping[str, Fac]) -> tuple[str, Fac, str] | None:
    """The code, its meaning and the digits after it (a forwarding target), for a dialled user part.

    The longest code that prefixes ``user`` wins, so ``*721002`` is CFA on to 1002.
    """
    for code in sorted(facs, key=len, reverse=True):
        if user == code or (user.startswith(code) and is_number(user[len(code) :].lstrip("#"))):
            return code, facs[code], user[len(code) :].lstrip("#")
    return None


def parse_facs(text: str) -> dict[str, Fac]:
    """``*78=DND:on,*79=DND:off`` -> table; raises ValueError with a one-line reason."""
    table: dict[str, Fac] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        code, eq, meaning = item.partition("=")
        feature, colon, state = meaning.partition(":")
        feature = feature.strip().upper()
        if not eq or not colon or feature not in FEATURES or state.strip() not in ("on", "off"):
            raise ValueError(f"bad feature access code {item!r}: expected CODE=FEATURE:on|off")
        table[code.strip()] = Fac(feature, state.strip() == "on")
    if not table:
        raise ValueError("empty feature access code table")
    return table
