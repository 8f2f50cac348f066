"""What the engine rebuilds: messages, transactions (SUBSCRIBE and NOTIFY ones and their ``Kind``),
subscription dialogs, compact REGISTER and INVITE outcomes, and the ``Trace`` holding them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from analyzer.bodies import Body
from analyzer.dialogs.packed import Packer, unpack
from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipMessage, SubscriptionState, parse_message, uri_user

__all__ = ["Call", "Kind", "Message", "NotifyTx", "Registration", "SubscribeTx", "Subscription", "Trace", "Transaction"]


class Message:
    """One observed message, parsed on demand: the parse is dropped once the engine has filed the message
    (``release``) and made again when a rule reads it, so a long capture holds raw bytes, not header objects.
    The status code, which the engine asks for long after, is kept apart."""

    __slots__ = ("_sip", "obs", "status")

    def __init__(self, obs: Observation, sip: SipMessage) -> None:
        self.obs = obs
        self._sip: SipMessage | None = sip
        self.status = sip.status

    @property
    def sip(self) -> SipMessage:
        if self._sip is None:
            self._sip = parse_message(self.obs.data)  # it parsed once: it parses again
        return self._sip

    def release(self) -> None:
        self._sip = None

    @property
    def index(self) -> int:
        return self.obs.index

    @property
    def time(self) -> float:
        return self.obs.time


@dataclass(eq=False, slots=True)
class Transaction:
    """A request, its retransmissions and the responses to it (response retransmissions flagged apart)."""

    request: Message
    retransmissions: list[Message] = field(default_factory=list)
    responses: list[Message] = field(default_factory=list)
    response_retransmissions: list[Message] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.request.sip.method or ""

    @property
    def time(self) -> float:
        return self.request.time

    @property
    def index(self) -> int:
        return self.request.index

    @property
    def final(self) -> Message | None:
        """The first final (>= 200) response."""
        for r in self.responses:  # a loop, not next(genexpr): the rules ask this hundreds of thousands of times
            if (r.status or 0) >= 200:
                return r
        return None

    @property
    def status(self) -> int | None:
        final = self.final
        return final.status if final else None

    @property
    def granted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def challenged(self) -> bool:
        return self.status in (401, 407)

    def messages(self) -> list[Message]:
        return [self.request, *self.retransmissions, *self.responses, *self.response_retransmissions]

    def release(self) -> None:
        for msg in self.messages():
            msg.release()


class Kind(str, Enum):
    ESTABLISH = "establish"
    REFRESH = "refresh"
    CHANGE = "change"
    TERMINATE = "terminate"


@dataclass(eq=False, slots=True)
class SubscribeTx(Transaction):
    kind: Kind = Kind.ESTABLISH
    in_dialog: bool = False
    body: Body | None = None

    @property
    def requested_expires(self) -> int | None:
        return self.request.sip.expires

    @property
    def granted_expires(self) -> int | None:
        final = self.final
        return final.sip.expires if final is not None and self.granted else None


@dataclass(eq=False, slots=True)
class NotifyTx(Transaction):
    state: SubscriptionState | None = None
    body: Body | None = None


@dataclass(eq=False, slots=True)
class Subscription:
    """One ``as-feature-event`` subscription dialog as seen in the traffic."""

    call_id: str
    subscriber_tag: str | None
    client: Endpoint
    server: Endpoint
    aor: str
    seen_from_start: bool = True
    subscribes: list[SubscribeTx] = field(default_factory=list)
    notifies: list[NotifyTx] = field(default_factory=list)
    last_seen: float = 0.0  # time of the latest message filed to the dialog
    earliest: tuple[float, int] | None = None  # (time, index) of its first message, once compacted or packed
    # ``subscribes`` and ``notifies`` packed (``pack``): while the lists are gone they are unpacked when asked
    # for, and the packed copy stays until the dialog changes, so a dialog only read unloads again for nothing
    packed: tuple[bytes, bytes] | None = field(default=None, repr=False)
    # the engine's bookkeeping, on the dialog (a dict entry per open dialog costs more): its place among the
    # dialogs it holds (-1: not held), and its end as last worked out, with the last_seen it was worked out at
    born: int = field(default=-1, repr=False)
    end: float | None = field(default=None, repr=False)
    end_seen: float | None = field(default=None, repr=False)

    def __getattr__(self, name: str) -> Any:
        # reached only for a slot with no value: the transactions of a packed dialog
        if name in ("subscribes", "notifies") and object.__getattribute__(self, "packed") is not None:
            self.subscribes, self.notifies = unpack(self.packed)  # type: ignore[arg-type]
            return object.__getattribute__(self, name)
        raise AttributeError(name)

    @property
    def loaded(self) -> bool:
        """Whether the transactions are in memory (not only packed)."""
        try:
            object.__getattribute__(self, "notifies")
        except AttributeError:
            return False
        return True

    def pack(self, packer: Packer) -> None:
        """Keep the transactions only packed until they are asked for (a dialog at rest, in a long capture)."""
        if self.earliest is None:
            self.earliest = (self.first_time, self.first_index)
        if self.packed is None:
            self.release()
            self.packed = packer.pack((self.subscribes, self.notifies))
        self.unload()

    def unload(self) -> None:
        """Drop the transactions again when a packed copy of them stands (nothing changed since it was made)."""
        if self.packed is not None and self.loaded:
            del self.subscribes, self.notifies

    def filed(self, when: float) -> None:
        """A message joined the dialog: it ran on to ``when``, and a packed copy is out of date."""
        self.last_seen = max(self.last_seen, when)
        if self.packed is not None:
            self.subscribes  # noqa: B018 (read back before the packed copy goes)
            self.packed = None

    @property
    def user(self) -> str | None:
        return uri_user(self.aor)

    @property
    def notifier_tag(self) -> str | None:
        """The To tag of the first 2xx to a SUBSCRIBE: the notifier's side of the dialog."""
        for tx in self.subscribes:
            if tx.granted and tx.final is not None and tx.final.sip.to_tag:
                return tx.final.sip.to_tag
        return None

    @property
    def event_id(self) -> str | None:
        for tx in self.subscribes:
            event = tx.request.sip.event
            if event is not None and "id" in event[1]:
                return event[1]["id"]
        return None

    @property
    def first_time(self) -> float:
        if self.earliest is not None:
            return self.earliest[0]
        return min(tx.time for tx in [*self.subscribes, *self.notifies])

    @property
    def first_index(self) -> int:
        if self.earliest is not None:
            return self.earliest[1]
        return min(tx.index for tx in [*self.subscribes, *self.notifies])

    # -- timeline questions the rules ask ---------------------------------------------------------------
    def notifies_between(self, start: float, end: float) -> list[NotifyTx]:
        return [n for n in self.notifies if start <= n.time <= end]

    def terminated_at(self) -> float | None:
        """When the dialog ended: the first terminated NOTIFY, or the 2xx to an ``Expires: 0`` SUBSCRIBE."""
        times = [n.time for n in self.notifies if n.state is not None and n.state.state == "terminated"]
        times += [tx.final.time for tx in self.subscribes if tx.kind is Kind.TERMINATE and tx.granted and tx.final]
        return min(times, default=None)

    def active_at(self, when: float) -> bool:
        """Granted, not terminated and not expired at ``when``."""
        grants = [
            tx
            for tx in self.subscribes
            if tx.kind is not Kind.TERMINATE and tx.granted and tx.final is not None and tx.final.time <= when
        ]
        if not grants:
            return not self.seen_from_start and self.terminated_at() is None
        last = grants[-1]
        expires = last.granted_expires if last.granted_expires is not None else last.requested_expires
        ended = self.terminated_at()
        if ended is not None and ended <= when:
            return False
        return expires is None or last.final is None or last.final.time + expires >= when

    def ends_at(self) -> float | None:
        """When the dialog is over unless more traffic comes: terminated, expired (the last grant or, for a
        dialog joined in the middle, the last NOTIFY's expires), or refused; None while it runs on."""
        ended = self.terminated_at()
        if ended is not None:
            return ended
        grants = [tx for tx in self.subscribes if tx.kind is not Kind.TERMINATE and tx.granted and tx.final]
        if grants:
            last = grants[-1]
            expires = last.granted_expires if last.granted_expires is not None else last.requested_expires
            return None if expires is None or last.final is None else last.final.time + expires
        if self.subscribes:
            return self.last_seen  # never granted: refused or unanswered
        states = [(n.time, n.state.expires) for n in self.notifies if n.state is not None]
        return states[-1][0] + states[-1][1] if states and states[-1][1] is not None else None

    def release(self) -> None:
        """Drop the parses of every message (they come back when read); a packed dialog's go with its lists."""
        if self.packed is not None:
            self.unload()
            return
        for tx in self.transactions():
            tx.release()

    def transactions(self) -> list[Transaction]:
        """Every transaction of the dialog in time order."""
        return sorted([*self.subscribes, *self.notifies], key=lambda tx: (tx.time, tx.index))

    def messages(self) -> list[Message]:
        out = [m for tx in self.transactions() for m in tx.messages()]
        return sorted(out, key=lambda m: (m.time, m.index))


@dataclass(frozen=True, slots=True)
class Registration:
    """A REGISTER transaction's outcome, kept for FKS-PRV-2."""

    user: str | None
    aor: str
    time: float  # of the final response (or the request when unanswered)
    status: int | None
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """An INVITE whose Request-URI user looks like a service code (starts with ``*`` or ``#``)."""

    user: str
    aor: str
    time: float
    frame: int


class Grouped(dict[str, "Subscription | list[Subscription]"]):
    """Dialogs by a key they share (a user, a Call-ID): one dialog as itself, several in a list (most keys
    have one, and a list per key is a good part of an open dialog's memory in a long capture)."""

    def of(self, key: str) -> list[Subscription]:
        found = self.get(key)
        if found is None:
            return []
        return list(found) if isinstance(found, list) else [found]

    def add(self, key: str, sub: Subscription) -> None:
        found = self.get(key)
        if found is None:
            self[key] = sub
        elif isinstance(found, list):
            found.append(sub)
        else:
            self[key] = [found, sub]

    def discard(self, key: str, sub: Subscription) -> None:
        found = self.get(key)
        if found is sub:
            del self[key]
        elif isinstance(found, list) and sub in found:
            found.remove(sub)
            if len(found) == 1:
                self[key] = found[0]


@dataclass(slots=True)
class Trace:
    """Everything the rules judge. When the engine settles subscriptions as it goes, ``subscriptions`` holds
    the ones still open; ``subscribes`` keeps every feature-sync SUBSCRIBE's time and frame per user, which
    is all the capture-scope rules (PRV) need of the settled ones."""

    subscriptions: list[Subscription] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unparsed: list[tuple[Observation, str]] = field(default_factory=list)
    unparsable: int = 0
    sip_messages: int = 0
    start_time: float | None = None
    end_time: float | None = None
    subscribes: dict[str | None, list[tuple[float, int]]] = field(default_factory=dict)
    aors: Grouped = field(default_factory=Grouped)

    def by_aor(self, aor: str) -> list[Subscription]:
        return self.aors.of(aor)

    def subscribes_of(self, user: str) -> list[tuple[float, int]]:
        """(time, frame) of every feature-sync SUBSCRIBE request from ``user``, in capture order."""
        return list(self.subscribes.get(user, ()))

    def add(self, sub: Subscription) -> None:
        self.subscriptions.append(sub)
        self.aors.add(sub.aor, sub)
