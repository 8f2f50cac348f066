"""The handset menu of the base emulator as text commands, so a person or a script can drive ``fks base``.

One command per line (``fks base --menu FIFO`` reads them; the conformance suite's ``base`` target writes
them through ``--fks-operator-cmd`` when no person stands by the handsets):

    register USER | subscribe USER (a new subscription) | unsubscribe USER | dnd USER on|off
    forward USER CFA|CFB|CFNA on TARGET [RINGS] | forward USER CFA|CFB|CFNA off | dial USER NUMBER
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.sip import is_number
from peers.sansio.gigaset import Base
from peers.sansio.outgoing import Outgoing

USAGE = (
    "register|subscribe|unsubscribe USER; dnd USER on|off; "
    "forward USER CFA|CFB|CFNA on TARGET [RINGS]|off; dial USER NUMBER"
)


class MenuError(ValueError):
    """A menu line that cannot be carried out: one line for the log."""


def menu_command(base: Base, line: str, abandon: Callable[[list[str]], None] = lambda branches: None) -> list[Outgoing]:
    """The requests one menu line makes the base send; ``abandon`` gets the branches of requests given up (the
    peer stops retransmitting them)."""
    words = line.split()
    if not words:
        return []
    verb, args = words[0].lower(), words[1:]
    if not args or args[0] not in base.handsets:
        raise MenuError(f"{line!r}: no handset account {args[0] if args else ''!r} on this base ({USAGE})")
    user = args[0]
    if verb == "subscribe" and len(args) == 1:
        abandon(base.forget(user))  # feature sync (re)enabled: a new subscription, as after a restart
        return [base.subscribe(user)]
    if verb in ("register", "unsubscribe") and len(args) == 1:
        return [getattr(base, verb)(user)]
    if verb == "dnd" and len(args) == 2 and args[1] in ("on", "off"):
        return [base.set_dnd(user, args[1] == "on")]
    if verb == "dial" and len(args) == 2:
        return [base.dial(user, args[1])]
    if verb == "forward" and len(args) >= 3 and args[1].upper() in ("CFA", "CFB", "CFNA"):
        feature, state = args[1].upper(), args[2]
        if state == "off" and len(args) == 3:
            return [base.set_forward(user, feature, False)]
        if state == "on" and len(args) in (4, 5) and (len(args) == 4 or is_number(args[4])):
            rings = int(args[4]) if len(args) == 5 else None
            return [base.set_forward(user, feature, True, args[3], rings)]
    raise MenuError(f"{line!r}: not a menu command ({USAGE})")
