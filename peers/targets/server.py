"""The AS side of a lab: our AS emulator, or the AS under test (changed through its portal)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from analyzer.documents import FeatureDocument
from analyzer.observation import Endpoint
from peers.sansio.features import FORWARDING, FeatureState, state_document
from peers.targets.lab import Lab, Unsupported


class PlayedAs(Lab):
    """Our AS emulator serves the exchange (on ``listen`` for a real base, else an ephemeral port)."""

    async def _start_as(self) -> Endpoint:
        listen = self.config.listen or Endpoint(self.config.host, 0)
        self._as_peer = self._peer(self.server.receive, scapy=self.config.transport == "scapy")
        self.server.local = await self._as_peer.start(listen.host, listen.port)
        return self.server.local

    @property
    def as_address(self) -> Endpoint:
        return self.server.local

    def labels(self) -> dict[Endpoint, str]:
        return {**super().labels(), self.server.local: "AS"}

    def set_policy(self, policy: Callable[[str, FeatureDocument], FeatureDocument | int | None]) -> None:
        async def put() -> None:
            self.server.policy = policy

        self._run(put())

    def preset(self, user: str, state: FeatureState) -> None:
        """Replace a user's state on our AS without telling anyone (what an administrator's import does)."""

        async def put() -> None:
            self.server.states[user] = state

        self._run(put())

    def preset_all(self, states: dict[str, FeatureState]) -> None:
        """Our AS holds exactly these users' states (copies), told to nobody."""
        for user, state in states.items():
            self.preset(user, copy.deepcopy(state))

    _set_baseline = preset_all

    def portal_change(self, user: str, doc: bytes) -> None:
        """A change on the web portal: the AS notifies every subscription of ``user``."""
        self._keep_quiet()
        self._send_from_as(lambda now: self.server.portal_change(user, doc, now))
        self.settle()


class RemoteAs(Lab):
    """The AS under test at ``remote``: its state is changed through its portal (``portal``), if given."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.config.remote is None:
            raise ValueError("playing the base needs the address of the AS under test")

    async def _start_as(self) -> Endpoint:
        assert self.config.remote is not None
        return self.config.remote

    @property
    def as_address(self) -> Endpoint:
        assert self.config.remote is not None
        return self.config.remote

    def set_policy(self, policy: Callable[[str, FeatureDocument], FeatureDocument | int | None]) -> None:
        raise Unsupported("the policy of a real AS is its own")

    def preset(self, user: str, state: FeatureState) -> None:
        raise Unsupported("the state of a real AS is set through its portal")

    def preset_all(self, states: dict[str, FeatureState]) -> None:
        return None  # a real AS's state is set through its portal (establish)

    def _portal(self) -> Callable[[str, bytes], None]:
        if self.portal is None:
            raise Unsupported("no portal for the AS under test (give --fks-portal-cmd or --fks-portal-url)")
        return self.portal

    def _set_baseline(self, states: dict[str, FeatureState]) -> None:
        portal = self._portal()
        for user, state in states.items():
            for feature in ("DND", *FORWARDING):
                portal(user, state_document(feature, state, user))

    def portal_change(self, user: str, doc: bytes) -> None:
        """A change on the AS's portal: the AS notifies every subscription of ``user``."""
        self._keep_quiet()
        portal = self._portal()
        hs = self.handset(user)  # type: ignore[attr-defined]
        seen = hs.screen.notified
        portal(user, doc)
        self._follows(f"the NOTIFY of {user}'s portal change", lambda: hs.screen.notified > seen)
        self.settle()
