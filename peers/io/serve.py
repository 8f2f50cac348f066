"""``fks as`` and ``fks base``: the emulators as long-running processes (UDP, TCP or TLS), one log line per message.

The users file (``--users``) is JSON: ``{"1001": {"password": "...", "dnd": false,
"forwards": {"CFNA": {"target": "1002", "rings": 4}}}}``. With it, requests are challenged with digest and the
states are preset; without it the AS is an open lab AS serving any user (state created on first contact).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from analyzer.observation import Endpoint, Observation
from analyzer.provisioning import ProvisioningError, parse_provisioning
from analyzer.sip.peek import peek_cseq_method, peek_from_user
from peers.io import LOG_RATE, loops
from peers.io.portal import Portal, serve_portal
from peers.io.tls import TlsOptions, TlsSetupError, describe, tls_peer
from peers.io.transport import Handler, TcpPeer, UdpPeer
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.features import FeatureState, Forward
from peers.sansio.gigaset import Base, accounts_from
from peers.sansio.menu import MenuError, menu_command
from peers.sansio.profiles import PROFILES, Profile


class UsersError(ValueError):
    """The users file is unusable: one line for the user."""


def load_users(path: str) -> tuple[dict[str, str], dict[str, FeatureState]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsersError(f"cannot read users file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsersError(f"{path}: expected a JSON object of users")
    passwords, states = {}, {}
    for user, spec in data.items():
        if not isinstance(spec, dict):
            raise UsersError(f"{path}: user {user} is not an object")
        if "password" in spec:
            passwords[str(user)] = str(spec["password"])
        state = FeatureState(dnd=bool(spec.get("dnd", False)))
        for name, fwd in (spec.get("forwards") or {}).items():
            if name not in state.forwards or not isinstance(fwd, dict):
                raise UsersError(f"{path}: user {user}: unknown forwarding {name!r} (CFA, CFB, CFNA)")
            state.forwards[name] = Forward(True, str(fwd.get("target", "")), fwd.get("rings"))
        states[str(user)] = state
    return passwords, states


def log_line(direction: str, obs: Observation) -> None:
    """One line per message: the start line (responses with their CSeq method) and the From user. Peeked at,
    not parsed; at most ``--log-rate`` lines a second when the transport asks ``log_admits`` first (a storm's
    messages beyond that are counted, not shown: the lines would cost the emulator more than the messages, and
    no one could read them). Passwords never shown."""
    first = obs.data.split(b"\r\n", 1)[0]
    if first.startswith(b"SIP/2.0 "):
        method = peek_cseq_method(obs.data)
        summary = first[8:].decode("latin-1") + (f" ({method})" if method else "")
    elif first.endswith(b" SIP/2.0"):
        summary = first.split(b" ", 1)[0].decode("latin-1")
    else:
        summary = f"unparsable datagram of {len(obs.data)} bytes"
    user = peek_from_user(obs.data)
    if user and not summary.startswith("unparsable"):
        summary += f" [{user}]"
    arrow = "<-" if direction == "recv" else "->"
    peer = obs.src if direction == "recv" else obs.dst
    _LOG.write(f"{obs.time:.3f} {arrow} {peer} {summary}\n")


def log_admits(when: float) -> bool:
    """Whether a message at ``when`` gets its log line (the transports ask before they make its Observation)."""
    return _LOG.admit(when)


class _Lines:
    """stdout for the per-message lines: kept and written together ``delay`` after the first unwritten line, not
    once per line (a write system call per message is a good part of a storm's cost, and an unbuffered stdout,
    ``PYTHONUNBUFFERED``, would make every ``write`` one).

    ``rate`` caps the lines (0: no cap) with a token bucket: ``rate`` lines a second, ``rate`` at once at most.
    Past the cap, messages are counted, and a line says how many once ``every`` seconds have gone by. A bucket,
    not a count per second: a storm then gets its lines spread over each second, where a count per second would
    spend the whole second's lines, and their cost, on its first milliseconds (a stall each second)."""

    def __init__(
        self, stream: Callable[[], TextIO] = lambda: sys.stdout, delay: float = 0.05, rate: int = LOG_RATE
    ) -> None:
        self.parts: list[str] = []
        self.stream = stream  # looked up at each write: a share of ``fks as --workers`` replaces sys.stdout
        self.delay = delay
        self.rate = rate
        self.every = 1.0
        self.tokens = float(rate)  # lines that may be written now
        self.filled = 0.0  # when the bucket was last filled (the messages' clock: epoch seconds)
        self.unshown = 0  # messages past the cap since the last count line
        self.since = self.until = 0.0  # when the first and the last of them came

    def admit(self, when: float) -> bool:
        """Whether a message at ``when`` (epoch seconds) gets its line."""
        if not self.rate:
            return True
        self.tokens = min(float(self.rate), self.tokens + max(0.0, when - self.filled) * self.rate)
        self.filled = when
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        if not self.unshown:
            self.since = when
            with contextlib.suppress(RuntimeError):  # no event loop (a direct call): flush_log says it
                asyncio.get_running_loop().call_later(self.every, self.count)
        self.unshown += 1
        self.until = when
        return False

    def count(self) -> None:
        """The line for the messages that got none since the last such line (nothing when all had one)."""
        if self.unshown:
            unshown, self.unshown = self.unshown, 0
            self.write(
                f"{self.since:.3f} .. {unshown} message(s) from here to {self.until:.3f} not logged "
                f"(--log-rate {self.rate} lines a second)\n"
            )

    def _later(self, delay: float, then: Callable[[], None]) -> None:
        try:
            asyncio.get_running_loop().call_later(max(delay, 0.0), then)
        except RuntimeError:  # no event loop (a direct call): at once
            then()

    def write(self, text: str) -> None:
        self.parts.append(text)
        if len(self.parts) == 1:
            self._later(self.delay, self.flush)

    def flush(self) -> None:
        if not self.parts:
            return
        text, self.parts = "".join(self.parts), []
        out = self.stream()
        out.write(text)
        out.flush()


_LOG = _Lines()


def flush_log() -> None:
    """Write the lines still kept (at a stop, before the stop's own line: the loop may end before their timer)."""
    _LOG.count()
    _LOG.flush()


def set_log_rate(rate: int) -> None:
    """``--log-rate``: per-message lines a second at most (0: all)."""
    _LOG.rate = rate


@dataclass(frozen=True)
class AsOptions:
    listen: Endpoint
    users: str | None = None
    max_expires: int = 3600
    profile: Profile = PROFILES["broadworks"]
    portal: Endpoint | None = None
    portal_token: str | None = None
    transport: str = "udp"
    digest: tuple[str, ...] = ("MD5",)
    tls: TlsOptions | None = None
    log_rate: int = LOG_RATE


@dataclass(frozen=True)
class BaseOptions:
    server: Endpoint
    provisioning: str
    listen: Endpoint = field(default_factory=lambda: Endpoint("127.0.0.1", 0))
    model: str | None = None
    internal_telephony: bool | None = None
    transport: str = "udp"
    register: bool = True
    expires: int = 3600
    menu: str | None = None  # a file or FIFO of handset-menu commands (peers/sansio/menu)
    tls: TlsOptions | None = None
    log_rate: int = LOG_RATE


def _transport(name: str, handler: Handler, tls: TlsOptions | None = None) -> UdpPeer | TcpPeer:
    """A long-running peer: every message is logged as a line, none is kept (memory stays flat)."""
    if name == "tls":
        return tls_peer(handler, tls or TlsOptions(), on_message=log_line, keep_log=False, wants=log_admits)
    if name == "tcp":
        return TcpPeer(handler, on_message=log_line, keep_log=False, wants=log_admits)
    return UdpPeer(handler, on_message=log_line, keep_log=False, wants=log_admits)


SETTLE_EVERY = 0.25  # seconds between two collections of the young objects (settle_heap)


def settle_heap() -> None:
    """Every ``SETTLE_EVERY`` seconds: collect the young objects, then set the survivors apart from the cyclic collector
    (``gc.freeze``). Why: the state of a long-running emulator only grows in a storm (15,000 subscriptions
    and their answers), and each full collection would scan all of it: a stall of tens of milliseconds, the p99
    of a storm; collecting the young ones often keeps each pause to a few milliseconds. Frozen objects are still
    freed by their reference counts (the subscriptions and answers hold no cycles); a cycle is found while it is
    young, by the collection before each freeze."""
    gc.collect(1)
    gc.freeze()


async def until_stopped(tick: Callable[[], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; ``tick`` runs once a second (the peers' timers: refresh, expiry)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    collecting = gc.isenabled()
    gc.disable()  # collected here instead (settle_heap), a little at a time
    due = 0.0
    try:
        while not stop.is_set():
            if tick is not None and loop.time() >= due:
                tick()
                due = loop.time() + 1.0
            settle_heap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SETTLE_EVERY)  # the timers' clock, not a synchronisation
    finally:
        if collecting:
            gc.enable()


def application_server(opts: AsOptions) -> ApplicationServer:
    """The sans-IO AS that ``opts`` describe (its users file read: a ``UsersError`` says what is wrong with it)."""
    passwords, states = load_users(opts.users) if opts.users else ({}, {})
    return ApplicationServer(
        opts.listen,
        passwords=passwords,
        max_expires=opts.max_expires,
        states=states,
        profile=opts.profile,
        algorithms=opts.digest,
        transport=opts.transport.upper(),
    )


def describe_mode(opts: AsOptions, server: ApplicationServer) -> str:
    users = server.passwords
    auth = f"digest {'/'.join(opts.digest)} for {len(users)} user(s)" if users else "open lab AS, no authentication"
    return f"{auth}; profile {opts.profile.name}"


async def serve_as(opts: AsOptions) -> None:
    set_log_rate(opts.log_rate)
    server = application_server(opts)
    peer = _transport(opts.transport, server.receive, opts.tls)
    peer.gave_up = server.failed
    local = await peer.start(opts.listen.host, opts.listen.port)
    server.local = local
    print(f"fks as: listening on {opts.transport} {local} ({describe_mode(opts, server)})", flush=True)
    if opts.tls is not None:
        print(f"fks as: {describe(opts.tls, server_side=True)}", flush=True)
    loop = asyncio.get_running_loop()
    httpd = None
    if opts.portal is not None:
        try:
            httpd = serve_portal(
                Portal(server, time.time), peer.send, loop, opts.portal.host, opts.portal.port, opts.portal_token
            )
        except ValueError as exc:
            peer.close()
            raise UsersError(str(exc)) from None
        print(f"fks as: portal on http://{opts.portal.host}:{httpd.server_address[1]}", flush=True)
    try:
        await until_stopped(lambda: peer.send(server.due(time.time())))
    finally:
        if httpd is not None:
            httpd.shutdown()
        peer.close()
        flush_log()
        print("fks as: stopped", flush=True)


def run_as(opts: AsOptions) -> int:
    return _run(serve_as(opts), opts.listen, opts.transport)


def os_reason(exc: OSError) -> str:
    """The system's words for a failed socket call: uvloop raises its own OSError with the kernel's one
    as the cause ("could not bind to local_addr", caused by "Address already in use")."""
    cause = exc.__cause__
    return exc.strerror or (cause.strerror if isinstance(cause, OSError) and cause.strerror else None) or str(exc)


def _run(main: Coroutine[Any, Any, None], listen: Endpoint, transport: str) -> int:
    try:
        loops.run(main, fast=transport != "tls")  # TLS: the standard loop (peers/io/loops.py says why)
    except (UsersError, TlsSetupError) as exc:
        print(f"fks: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fks: error: cannot listen on {listen}: {os_reason(exc)}", file=sys.stderr)
        return 2
    return 0


async def serve_base(opts: BaseOptions) -> None:
    set_log_rate(opts.log_rate)
    try:
        prov = parse_provisioning(
            Path(opts.provisioning).read_bytes(), model=opts.model, internal_telephony=opts.internal_telephony
        )
    except OSError as exc:
        raise UsersError(f"cannot read provisioning file {opts.provisioning}: {exc.strerror}") from None
    except ProvisioningError as exc:
        raise UsersError(f"{opts.provisioning}: {exc}") from None
    accounts = accounts_from(prov, model=opts.model, internal_telephony=opts.internal_telephony, include_disabled=True)
    handsets = {h.user: h for h in accounts}
    base = Base(opts.listen, opts.server, handsets, expires=opts.expires, transport=opts.transport.upper())
    peer = _transport(opts.transport, lambda data, src, now: base.receive(data, src, now), opts.tls)
    base.local = await peer.start(opts.listen.host, opts.listen.port)
    enabled = [hs for hs in handsets.values() if hs.feature_sync]
    print(
        f"fks base: {opts.transport} {base.local} -> AS {opts.server}, {len(handsets)} account(s), "
        f"{len(enabled)} handset(s) with feature sync",
        flush=True,
    )
    if opts.tls is not None:
        print(f"fks base: {describe(opts.tls, server_side=False)}", flush=True)
    subscribed: set[str] = set()

    def tick() -> None:
        """Subscribe each enabled account once it is registered (GS: within T_subscribe), refresh when due."""
        for hs in enabled:
            if hs.user not in subscribed and (hs.registration.registered or not opts.register):
                subscribed.add(hs.user)
                if (
                    not hs.dialog.call_id
                ):  # the menu may have subscribed it already: a second dialog would race the first
                    peer.send(base.subscribe(hs.user))
        peer.send(base.due(time.time()))

    if opts.menu is not None:
        _read_menu(opts.menu, base, peer, asyncio.get_running_loop())
    try:
        if opts.register:
            for hs in handsets.values():
                peer.send(base.register(hs.user))
            with contextlib.suppress(TimeoutError):  # the REGISTERs and their challenges: at most 5 s
                await peer.wait_until(
                    lambda: all(h.registration.registered for h in handsets.values()) or peer.idle, 5.0
                )
        await until_stopped(tick)
        active = [hs for hs in enabled if hs.dialog.remote_tag]
        for hs in active:
            peer.send(base.unsubscribe(hs.user))
        with contextlib.suppress(TimeoutError):  # challenges, the 2xx and the final NOTIFY: at most 5 s
            await peer.wait_until(
                lambda: all(hs.dialog.ended and hs.dialog.terminated for hs in active) and peer.idle, 5.0
            )
    finally:
        peer.close()
        flush_log()
        print("fks base: stopped", flush=True)


def _read_menu(path: str, base: Base, peer: UdpPeer | TcpPeer, loop: asyncio.AbstractEventLoop) -> None:
    """Read menu commands from ``path`` in a thread (a FIFO is reopened after each writer closes it)."""

    def run(line: str) -> None:
        try:
            peer.send(menu_command(base, line, peer.abandon))
        except MenuError as exc:
            print(f"fks base: menu: {exc}", flush=True)

    def pump() -> None:
        while True:
            try:
                with open(path, encoding="utf-8") as commands:
                    for line in commands:
                        loop.call_soon_threadsafe(run, line.strip())
            except OSError as exc:
                print(f"fks base: menu: cannot read {path}: {exc.strerror}", flush=True)
                return
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                return  # a plain file is read once

    threading.Thread(target=pump, name="fks-menu", daemon=True).start()


def run_base(opts: BaseOptions) -> int:
    return _run(serve_base(opts), opts.listen, opts.transport)
