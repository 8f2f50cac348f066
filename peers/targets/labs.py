"""One lab class per set of ends we play (quic-interop-runner's one class per implementation): chosen once, by
the target, and never asked which it is."""

from __future__ import annotations

from peers.sansio.outgoing import Outgoing
from peers.targets.lab import Lab
from peers.targets.phone import OperatedBase, PlayedBase
from peers.targets.server import PlayedAs, RemoteAs

__all__ = ["AsLab", "BaseLab", "Lab", "LoopbackLab"]


class LoopbackLab(PlayedBase, PlayedAs):
    """Both emulators on loopback, wired together (through the impairment relay, if any) and recorded."""

    settled_is_final = True

    def expire(self, user: str) -> None:
        """Let the AS's expiry timer run out (the base's refresh is not sent): the AS ends the subscription."""
        hs = self.handset(user)
        hs.dialog.refresh_at = None

        def lapse(now: float) -> list[Outgoing]:
            for sub in self.server.subscriptions.values():
                if sub.user == user:
                    sub.expires_at = now  # the AS's clock for this user jumps to the expiry
            return self.server.due(now)

        self._send_from_as(lapse)
        self.wait(f"the NOTIFY ending {user}'s expired subscription", lambda: hs.dialog.terminated)
        self.settle()


class BaseLab(PlayedBase, RemoteAs):
    """Our base against the AS under test at ``config.remote``."""


class AsLab(OperatedBase, PlayedAs):
    """Our AS on ``config.listen`` with a real base pointed at it; handset actions go to ``operator``."""
