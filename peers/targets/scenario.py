"""What a conformance scenario runs against: the four targets (loopback, as, base, pcap) behind one object.

A ``Scenario`` collects what the Given steps configure, starts the live exchange on first use (``lab``), and
hands the When steps to the right end: on ``loopback`` the lab plays both emulators; on ``as`` it plays the
base against a real AS (portal changes through a command or an Xsi-style URL); on ``base`` it plays the AS
against a real base (handset-menu actions go to an operator); on ``pcap`` nothing is played and each When
step looks for its traffic in a recorded capture. What a target cannot do raises ``Unsupported`` with the
reason, which the suite turns into a skip that the report shows.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from analyzer.documents import FeatureDocument
from analyzer.fac import DEFAULT_FACS
from analyzer.judging import AuditSettings, judge
from analyzer.observation import Endpoint, Observation
from analyzer.provisioning import Provisioning, ProvisioningError, build_provisioning, parse_provisioning
from analyzer.rules import Judgement
from analyzer.rules.base import Options
from analyzer.sip import SipError, SipMessage, parse_message
from analyzer.vocab import PACKAGE
from peers.craft.packets import WirePlan
from peers.io.certs import TlsFiles
from peers.io.impair import Impairment
from peers.io.rawudp import can_send_raw
from peers.sansio.features import FeatureState, Forward, state_document
from peers.sansio.gigaset import Handset, accounts_from
from peers.sansio.profiles import PROFILES
from peers.targets.lab import Lab, LabConfig, LabError, Unsupported, request_matcher
from peers.targets.labs import AsLab, BaseLab, LoopbackLab
from peers.targets.portals import run_portal_cmd, xsi_put
from peers.targets.window import let_window_pass

DEFAULT_DOMAIN = "example.test"  # a loopback run's domain; against a real AS the provisioning file's, or --fks-domain

__all__ = ["TARGETS", "LabError", "Scenario", "TargetOptions", "Unsupported", "scenario_for"]


@dataclass(frozen=True)
class TargetOptions:
    """The run's choice of target and how to reach it (the suite's ``--fks-*`` options)."""

    name: str = "loopback"
    remote: Endpoint | None = None  # --fks-as: the AS under test
    listen: Endpoint | None = None  # --fks-listen: where our AS waits for a real base
    transport: str = "udp"
    tls: TlsFiles = field(default_factory=TlsFiles)  # --fks-tls-*: TLS files given for a real device
    provisioning: str | None = None  # --fks-provisioning: the accounts (and passwords) of the base
    portal_cmd: str | None = None  # e.g. "curl -X PUT ... {user} {feature} {state} {target}"
    portal_url: str | None = None  # an Xsi-Actions base URL
    portal_token: str | None = field(default=None, repr=False)
    operator_cmd: str | None = None  # run with {action} and {instruction} for each handset-menu action
    pcap: str | None = None
    notify_timeout: float = 5.0  # T_notify the scenarios are judged with: the catalogue's default
    domain: str | None = None  # --fks-domain: the AOR's domain when the provisioning file names none

    @property
    def default_domain(self) -> str:
        return self.domain or DEFAULT_DOMAIN


@dataclass
class Scenario:
    """What every target shares; a subclass per target says what it plays (``lab_class``) and what it cannot."""

    options: TargetOptions
    profile: str = "broadworks"
    handsets: dict[str, Handset] = field(default_factory=dict)
    states: dict[str, FeatureState] = field(default_factory=dict)
    algorithms: tuple[str, ...] = ()
    policy: Callable[[str, FeatureDocument], FeatureDocument | int | None] | None = None
    max_expires: int = 3600
    transport: str | None = None
    model: str | None = None
    internal_telephony: bool | None = None
    provisioning_xml: bytes | None = None
    pending_provisioning: tuple[str, list[tuple[str, str, str]]] = ("N870", [])
    impairment: Impairment | None = None
    wire: WirePlan | None = None  # how our AS's datagrams leave (crafted packets): fragments, checksum, TTL
    notify_timeout: float | None = None  # this scenario's T_notify, when it differs from the run's
    _lab: Lab | None = None
    _capture: list[Observation] | None = None
    # users whose feature state on the AS is known: set (and read back) before the scenario's record began
    known_state: set[str] = field(default_factory=set)
    baseline_note: str = ""  # what establishing the baseline did, for the report

    name = ""  # the target's name, as --fks-target spells it
    lab_class: ClassVar[type[Lab] | None] = LoopbackLab  # the ends we play (None: nothing is played)
    emulates_as = True  # the AS is our emulator (its profile, digest and policy are the scenario's to set)
    emulates_base = True  # the base is our emulator
    second_handsets = True  # a second handset of a user can be added

    @property
    def t_notify(self) -> float:
        return self.notify_timeout if self.notify_timeout is not None else self.options.notify_timeout

    def impair(self, spec: Impairment) -> None:
        """The network between our base and the AS drops, duplicates, reorders and delays (seeded)."""
        self._before_start("impair the network")
        datagrams = (self.transport or self.options.transport) in ("udp", "scapy")
        if not (self.emulates_as and self.emulates_base) or not datagrams:
            raise Unsupported("the impairment relay sits between our two emulators over UDP (loopback only)")
        self.impairment = spec
        self.notify_timeout = 5.0  # the catalogue's T_notify: retransmissions must have time to succeed

    def shape_wire(self, **plan: object) -> None:
        """Our AS's datagrams leave as crafted packets shaped so (``peers.craft.packets.WirePlan``; several
        Givens add up). Only our AS's packets can be shaped, over UDP, with the privilege to craft them."""
        self.needs_emulated_as("send crafted packets")
        self._before_start("shape the packets on the wire")
        if (self.transport or self.options.transport) not in ("udp", "scapy"):
            raise Unsupported(f"crafted packets carry UDP; this run is configured for {self.options.transport}")
        self.wire = dataclasses.replace(self.wire or WirePlan(), **plan)  # type: ignore[arg-type]
        self.transport = "scapy"

    def __repr__(self) -> str:  # what a report shows as the step's fixture: short, and no credentials
        return f"Scenario(target={self.target}, profile={self.profile}, handsets={sorted(self.handsets)})"

    # -- the Given side ------------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return self.name

    def needs_emulated_as(self, what: str) -> None:
        """A Given that configures the AS: only possible when the AS is ours."""
        if not self.emulates_as:
            raise Unsupported(f"the AS under test cannot be made to {what} (target {self.target})")

    def needs_emulated_base(self, what: str) -> None:
        if not self.emulates_base:
            raise Unsupported(f"the base under test cannot be made to {what} (target {self.target})")

    def play_profile(self, name: str) -> None:
        if name not in PROFILES:
            raise ValueError(f"unknown AS profile {name!r}")
        if name != "broadworks":
            self.needs_emulated_as(f"play the {name!r} profile")
        self.profile = name

    def add_handset(self, label: str, user: str | None = None) -> None:
        """A handset account with feature sync (``user``: a second handset of that user, named ``label``)."""
        if user and not self.second_handsets:
            raise Unsupported(f"the base under test has no second handset of user {user} known to the suite")
        user = user or label
        hs = self.handsets.setdefault(label, Handset(user, self.options.default_domain, f"pw-{user}", label=label))
        if self._lab is not None and self.emulates_base:
            self._lab.add_handset(label, hs)

    def challenge(self, algorithms: tuple[str, ...]) -> None:
        self.needs_emulated_as("challenge with chosen digest algorithms")
        self._before_start("configure the digest challenge")
        if not self.emulates_base and not self.options.provisioning:
            raise Unsupported("challenging a real base needs its accounts' passwords: give --fks-provisioning")
        self.algorithms = algorithms

    def cap_expires(self, seconds: int) -> None:
        self.needs_emulated_as(f"grant at most {seconds} s")
        self._before_start("cap the granted expiry")
        self.max_expires = seconds

    def use_transport(self, name: str) -> None:
        self._before_start("choose the transport")
        if self.options.transport != name and not (self.emulates_as and self.emulates_base):
            raise Unsupported(f"this run is configured for {self.options.transport} (--fks-transport)")
        self.transport = name

    def set_policy(self, what: str, policy: Callable[[str, FeatureDocument], FeatureDocument | int | None]) -> None:
        self.needs_emulated_as(what)
        self.policy = policy
        if self._lab is not None:
            self._lab.set_policy(policy)

    def set_state(self, user: str, feature: str, active: bool, target: str = "", rings: int | None = None) -> None:
        """The user's state on the AS. Before the exchange starts it joins the user's baseline, which is set on
        the AS (our AS directly, a real one through its portal) and read back before the record begins; once
        started, our AS takes it silently (an administrator's import), a real AS through its portal."""
        state = self.states.setdefault(user, FeatureState())
        if feature == "DND":
            state.dnd = active
        else:
            state.forwards[feature] = Forward(active, target, rings)
        if self._lab is None:
            return
        self._state_changed(user, feature, state)

    def _state_changed(self, user: str, feature: str, state: FeatureState) -> None:
        """Once started, our AS takes a new state silently (an administrator's import)."""
        assert self._lab is not None
        self._lab.preset(user, state)

    def refresh(self, user: str) -> None:
        """A refresh of the live subscription."""
        self.act(f"refresh by {user}", lambda lab: lab.subscribe(user), method="SUBSCRIBE", user=user)

    def needs_known_state(self, user: str) -> None:
        """A step that reads the state the AS reported: it must know what the AS held before the scenario."""
        hs = self.handsets.get(user)
        if not self.emulates_as and self.started and hs is not None and hs.user not in self.known_state:
            raise Unsupported(
                f"the state of user {hs.user} on the AS under test is not known: "
                "give --fks-portal-url or --fks-portal-cmd so that each scenario can set its baseline"
            )

    def subscribed(self, user: str) -> bool:
        """Whether the records show an establishing or refreshing as-feature-event SUBSCRIBE from ``user``."""
        match = request_matcher(user, "SUBSCRIBE", expires=True)
        for obs in self.observations():
            try:
                msg = parse_message(obs.data)
            except SipError:
                continue
            if match(msg) and (msg.event or ("",))[0] == PACKAGE:
                return True
        return False

    def _before_start(self, what: str) -> None:
        if self._lab is not None:
            raise ValueError(f"cannot {what} once the exchange has started: put that Given first")

    # -- the When side -------------------------------------------------------------------------------------
    def act(self, what: str, action: Callable[[Lab], None], **request: object) -> None:
        """Perform a step live, or, on target pcap, find the request that shows it in the capture."""
        action(self.lab)

    def let_window_pass(self) -> None:
        """Wait out T_notify for the NOTIFYs owed (``peers.targets.window``)."""
        let_window_pass(self.lab, self.t_notify)

    def flood(self, count: int) -> None:
        """``count`` SUBSCRIBEs from users the AS does not know, one datagram each, from one socket."""
        if not (self.emulates_as and self.emulates_base):
            raise Unsupported("flooding is done against our own AS emulator only")
        template = (
            "SUBSCRIBE sip:{u}@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-f{u}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:{u}@example.test>;tag=f{u}\r\nTo: <sip:{u}@example.test>\r\n"
            "Call-ID: flood-{u}\r\nCSeq: 1 SUBSCRIBE\r\nEvent: as-feature-event\r\nExpires: 3600\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        self.lab.send_raw([template.format(u=900000 + i).encode() for i in range(count)])

    def send_garbage(self, datagrams: list[bytes]) -> None:
        if not (self.emulates_base and self.lab_class):
            raise Unsupported(f"garbage is sent to an AS; target {self.target} has none of ours to check")
        if (self.transport or self.options.transport) not in ("udp", "scapy"):
            raise Unsupported("garbage datagrams need the UDP transport")
        self.lab.send_raw(datagrams)

    def provision(self, accounts: list[tuple[str, str, str | None]], model: str, internal: bool | None) -> None:
        """The base reads this provisioning file: only its enabled accounts subscribe."""
        self.needs_emulated_base("use a given provisioning file")
        if not self.emulates_as:
            raise Unsupported(
                "on target as the base is our emulator: the provisioning rules (FKS-PRV-*) would judge it, "
                "not the AS under test"
            )
        self.model, self.internal_telephony = model, internal
        rows = [(ident, user, fks, f"pw-{user}") for ident, user, fks in accounts]
        self.provisioning_xml = build_provisioning(rows)
        try:
            prov = parse_provisioning(self.provisioning_xml, model=model, internal_telephony=internal)
        except ProvisioningError as exc:
            raise ValueError(str(exc)) from None
        for hs in accounts_from(prov, model=model, internal_telephony=internal, include_disabled=True):
            self.handsets[hs.user] = hs

    # -- the live exchange ---------------------------------------------------------------------------------
    @property
    def lab(self) -> Lab:
        """The live exchange, started on first use with what the Givens configured."""
        if self.lab_class is None:
            raise Unsupported(f"target {self.name} replays nothing: this step needs a live exchange")
        if self._lab is None:
            config = self._config()
            if config.transport == "scapy" and not self.emulates_as:
                raise Unsupported("transport scapy crafts our AS's packets; on this target the AS is not ours")
            if config.transport == "scapy" and not can_send_raw():
                raise Unsupported("crafting packets (transport scapy) needs root or CAP_NET_RAW")
            self._lab = self.lab_class(config)
            self._lab.portal = self._portal()
            self._lab.operator = self._operator
            self._lab.start()
            self._establish_baseline()
        return self._lab

    def _establish_baseline(self) -> None:
        """Bring every feature-sync user of the scenario to its baseline (all off, plus what ``user ... has this
        feature state`` says) and read it back from the AS, before the record begins: a real AS keeps each
        user's features for days, and no scenario may rely on what an earlier one left behind."""
        lab = self._lab
        assert lab is not None
        users = sorted({hs.user for hs in self.handsets.values() if hs.feature_sync})
        if not self.emulates_base or not users:
            lab.preset_all({u: self.states.get(u, FeatureState()) for u in users})
            return
        if not self.emulates_as and lab.portal is None:
            if any(u in self.states for u in users):
                raise Unsupported("no portal for the AS under test (give --fks-portal-cmd or --fks-portal-url)")
            return
        # on loopback only where our AS reports its state as BroadWorks does (a deviation profile would not)
        # (not through a lossy network, nor a wire that loses the initial NOTIFY on purpose)
        verify = not self.emulates_as or (self.profile == "broadworks" and self.impairment is None and not self.wire)
        wanted = {u: self.states.get(u, FeatureState()) for u in users}
        self.baseline_note = lab.establish(wanted, verify=verify)
        self.known_state.update(users)

    @property
    def started(self) -> bool:
        return self._lab is not None

    def _config(self) -> LabConfig:
        opts = self.options
        handsets = list(self.handsets.values()) or [Handset("1001", opts.default_domain, "pw-1001")]
        if not (self.emulates_as and self.emulates_base) and opts.provisioning:  # the base's accounts (and passwords)
            prov = parse_provisioning(Path(opts.provisioning).read_bytes())
            handsets = accounts_from(prov, include_disabled=True, domain=opts.default_domain)
        passwords = {hs.user: hs.password or "" for hs in handsets} if self.algorithms else {}
        config = LabConfig(
            transport=self.transport or opts.transport,
            profile=PROFILES[self.profile],
            handsets=handsets,
            passwords=passwords,
            states={u: s for u, s in self.states.items()},
            algorithms=self.algorithms or ("MD5",),
            max_expires=self.max_expires,
            policy=self.policy,
            quiet=self.t_notify + 0.2,
            timeout=10.0,
            remote=opts.remote,
            listen=opts.listen if not self.emulates_base else None,
            tls=opts.tls,
            strict=False,
            follow_timeout=self.t_notify,
            impairment=self.impairment,
            wire=self.wire,
            # through a lossy network or a shaped wire: retransmit fast (Timer F 3.2 s), judge with T_notify
            t1=0.05 if self.impairment or self.wire else 0.5,
        )
        return config

    def _portal(self) -> Callable[[str, bytes], None] | None:
        opts = self.options
        domains = {hs.user: hs.domain for hs in (self._lab.base.handsets.values() if self._lab else ())}
        if opts.portal_cmd:
            return lambda user, doc: run_portal_cmd(
                opts.portal_cmd or "", user, domains.get(user, opts.default_domain), doc
            )
        if opts.portal_url:
            return lambda user, doc: xsi_put(opts.portal_url or "", opts.portal_token, user, doc)
        return None

    def _operator(self, instruction: str, action: str) -> None:
        print(f"\nOPERATOR: {instruction}", flush=True)
        if self.options.operator_cmd:
            command = self.options.operator_cmd.format(action=shlex.quote(action), instruction=shlex.quote(instruction))
            subprocess.run(command, shell=True, check=True, timeout=30)

    def close(self) -> None:
        if self._lab is not None:
            self._lab.close()

    # -- the records ---------------------------------------------------------------------------------------
    def observations(self) -> list[Observation]:
        return self.lab.observations if self.started else []

    def _recorded(self) -> list[Observation]:
        if self._capture is None:
            if not self.options.pcap:
                raise Unsupported("target pcap needs --fks-pcap FILE")
            from analyzer.sources import CaptureReader

            self._capture = list(CaptureReader(self.options.pcap))
        return self._capture

    def settings(self) -> AuditSettings:
        prov: Provisioning | None = None
        if self.provisioning_xml is not None:
            prov = parse_provisioning(
                self.provisioning_xml, model=self.model, internal_telephony=self.internal_telephony
            )
        options = Options(
            notify_timeout=self.t_notify,
            facs=dict(DEFAULT_FACS),
            model=self.model,
            internal_telephony=self.internal_telephony,
        )
        return AuditSettings(options, prov, self._lab.decode_as if self._lab is not None else ())

    def judge(self) -> Judgement:
        judgement, _ = judge(self.observations(), self.settings())
        return judgement

    # -- the pcap target: When steps find their traffic instead of making it --------------------------------
    def find(self, what: str, predicate: Callable[[SipMessage], bool]) -> None:
        """On target pcap: the capture must hold a request that ``predicate`` accepts, else the step skips."""
        for obs in self._recorded():
            try:
                msg = parse_message(obs.data)
            except SipError:
                continue
            if msg.is_request and predicate(msg):
                return
        raise Unsupported(f"the capture shows no {what}")


class LoopbackScenario(Scenario):
    """Both ends are our emulators."""

    name = "loopback"


class AsScenario(Scenario):
    """The AS under test at --fks-as; our base plays the handsets; its state changes through its portal."""

    name = "as"
    lab_class = BaseLab
    emulates_as = False

    def _state_changed(self, user: str, feature: str, state: FeatureState) -> None:
        self.lab.portal_change(user, state_document(feature, state, user))


class BaseScenario(Scenario):
    """The base under test, pointed at our AS on --fks-listen; handset actions go to an operator."""

    name = "base"
    lab_class = AsLab
    emulates_base = False
    second_handsets = False

    def refresh(self, user: str) -> None:
        raise Unsupported("a real base refreshes on its own schedule; the suite cannot ask it for a refresh now")


class PcapScenario(Scenario):
    """A recorded capture: nothing is played; each When step finds its traffic in the capture."""

    name = "pcap"
    lab_class = None
    emulates_as = False
    emulates_base = False

    def set_state(self, user: str, feature: str, active: bool, target: str = "", rings: int | None = None) -> None:
        return None  # the capture is what it is: the state is read from it, not set

    def act(self, what: str, action: Callable[[Lab], None], **request: object) -> None:
        user = str(request.pop("user"))
        method = str(request.pop("method"))
        self.find(what, request_matcher(user, method, **request))  # type: ignore[arg-type]

    def observations(self) -> list[Observation]:
        return self._recorded()

    def let_window_pass(self) -> None:
        return None  # a capture's time has passed already


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (LoopbackScenario, AsScenario, BaseScenario, PcapScenario)
}
TARGETS = tuple(SCENARIOS)


def scenario_for(options: TargetOptions) -> Scenario:
    """The scenario of the run's target (the one place the target's name is looked at)."""
    return SCENARIOS[options.name](options)
