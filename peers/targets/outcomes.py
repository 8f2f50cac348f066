"""What a scenario's failure means, as the exception a step raises: the report files it by its class.

A conformance run must tell three things apart: the product under test broke a rule (``ProductDefect``), our
own side broke (``OwnSide``: an emulator, a portal command, the set-up; any other error too), and the two
records of one exchange disagree (``RecordsDisagree``). A step the target cannot perform raises
``peers.targets.lab.Unsupported`` and is skipped with its reason.
"""

from __future__ import annotations

from analyzer.rules.base import EITHER, PHONE, SERVER


class ProductDefect(AssertionError):
    """A rule of the catalogue, or the state a handset shows, is not what the product under test must give.
    (``fks audit --format allure`` opens a failed test's message with this class's name too.)"""


class RecordsDisagree(AssertionError):
    """The message log and the wire capture of one exchange give different verdicts."""


class OwnSide(RuntimeError):
    """Our side broke: what our emulator did, a portal or operator command that failed, a set-up that did
    not take. Never counted against the product under test."""


PARTY_NAMES = {PHONE: "base", SERVER: "AS", EITHER: "peer"}


def emulated(target: str, party: str) -> bool:
    """Whether ``party`` (whose behaviour a rule judges) is played by our emulator facing a real device: the
    base on target ``as``, the AS on target ``base``. On ``loopback`` both ends are ours and under test."""
    return (target == "as" and party == PHONE) or (target == "base" and party == SERVER)


def check(target: str, party: str, ok: bool, message: str) -> None:
    """Raise what a failed expectation about ``party`` means on this target."""
    if ok:
        return
    if emulated(target, party):
        name = PARTY_NAMES[party]
        raise OwnSide(f"{message} [our {name} emulator on target {target}: not a defect of the product under test]")
    raise ProductDefect(message)
