"""``fks as`` and ``fks base``: the emulators as long-running processes on UDP sockets, one log line per message.

The users file (``--users``) is JSON: ``{"1001": {"password": "...", "dnd": false,
"forwards": {"CFNA": {"target": "1002", "rings": 4}}}}``. With it, requests are challenged with digest and the
states are preset; without it the AS is an open lab AS serving any user (state created on first contact).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

from analyzer.observation import Endpoint, Observation
from analyzer.provisioning import ProvisioningError, parse_provisioning
from analyzer.sip import SipError, parse_message
from peers.broadworks import ApplicationServer
from peers.features import FeatureState, Forward
from peers.gigaset import Base, accounts_from
from peers.portal import Portal, serve_portal
from peers.profiles import Profile
from peers.transport import UdpPeer


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
    """One line per message, passwords never shown (only the start line and the addresses are printed)."""
    try:
        msg = parse_message(obs.data)
        summary = msg.summary + (f" [{msg.from_.user}]" if msg.from_ and msg.from_.user else "")
    except SipError:
        summary = f"unparsable datagram of {len(obs.data)} bytes"
    arrow = "<-" if direction == "recv" else "->"
    peer = obs.src if direction == "recv" else obs.dst
    print(f"{obs.time:.3f} {arrow} {peer} {summary}", flush=True)


async def serve_as(
    listen: Endpoint,
    users: str | None,
    max_expires: int,
    profile: Profile,
    portal: Endpoint | None = None,
    portal_token: str | None = None,
) -> None:
    passwords, states = load_users(users) if users else ({}, {})
    server = ApplicationServer(listen, passwords=passwords, max_expires=max_expires, states=states, profile=profile)
    peer = UdpPeer(server.receive, on_message=log_line)
    local = await peer.start(listen.host, listen.port)
    server.local = local
    mode = f"digest for {len(passwords)} user(s)" if passwords else "open lab AS, no authentication"
    print(f"fks as: listening on udp {local} ({mode}; profile {profile.name})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    httpd = None
    if portal is not None:
        try:
            httpd = serve_portal(Portal(server, time.time), peer.send, loop, portal.host, portal.port, portal_token)
        except ValueError as exc:
            peer.close()
            raise UsersError(str(exc)) from None
        print(f"fks as: portal on http://{portal.host}:{httpd.server_address[1]}", flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if httpd is not None:
            httpd.shutdown()
        peer.close()
        print("fks as: stopped", flush=True)


def run_as(
    listen: Endpoint,
    users: str | None,
    max_expires: int,
    profile: Profile,
    portal: Endpoint | None = None,
    portal_token: str | None = None,
) -> int:
    try:
        asyncio.run(serve_as(listen, users, max_expires, profile, portal, portal_token))
    except UsersError as exc:
        print(f"fks: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fks: error: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


async def serve_base(
    listen: Endpoint, server: Endpoint, provisioning: str, model: str | None, internal: bool | None
) -> None:
    try:
        prov = parse_provisioning(Path(provisioning).read_bytes(), model=model, internal_telephony=internal)
    except OSError as exc:
        raise UsersError(f"cannot read provisioning file {provisioning}: {exc.strerror}") from None
    except ProvisioningError as exc:
        raise UsersError(f"{provisioning}: {exc}") from None
    handsets = {h.user: h for h in accounts_from(prov, model=model, internal_telephony=internal)}
    base = Base(listen, server, handsets)
    peer = UdpPeer(lambda data, src, now: base.receive(data, src, now), on_message=log_line)
    base.local = await peer.start(listen.host, listen.port)
    print(f"fks base: udp {base.local} -> AS {server}, {len(handsets)} handset(s) with feature sync", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for user in handsets:
            peer.send(base.subscribe(user))
        while not stop.is_set():
            peer.send(base.due(time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)  # the refresh timer's tick, not a synchronisation
        active = [hs for hs in handsets.values() if hs.remote_tag]
        for hs in active:
            peer.send(base.unsubscribe(hs.user))
        with contextlib.suppress(TimeoutError):  # challenges, the 2xx and the final NOTIFY: at most 5 s
            await peer.wait_until(lambda: all(hs.ended and hs.terminated for hs in active) and peer.idle, 5.0)
    finally:
        peer.close()
        print("fks base: stopped", flush=True)


def run_base(listen: Endpoint, server: Endpoint, provisioning: str, model: str | None, internal: bool | None) -> int:
    try:
        asyncio.run(serve_base(listen, server, provisioning, model, internal))
    except UsersError as exc:
        print(f"fks: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fks: error: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
