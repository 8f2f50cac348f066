"""``fks as``: the AS emulator as a long-running process on a UDP socket, one log line per message.

The users file (``--users``) is JSON: ``{"1001": {"password": "...", "dnd": false,
"forwards": {"CFNA": {"target": "1002", "rings": 4}}}}``. With it, requests are challenged with digest and the
states are preset; without it the AS is an open lab AS serving any user (state created on first contact).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipError, parse_message
from peers.broadworks import ApplicationServer
from peers.features import FeatureState, Forward
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
        summary = parse_message(obs.data).summary
    except SipError:
        summary = f"unparsable datagram of {len(obs.data)} bytes"
    arrow = "<-" if direction == "recv" else "->"
    peer = obs.src if direction == "recv" else obs.dst
    print(f"{obs.time:.3f} {arrow} {peer} {summary}", flush=True)


async def serve_as(listen: Endpoint, users: str | None, max_expires: int) -> None:
    passwords, states = load_users(users) if users else ({}, {})
    server = ApplicationServer(listen, passwords=passwords, max_expires=max_expires, states=states)
    peer = UdpPeer(server.receive, on_message=log_line)
    local = await peer.start(listen.host, listen.port)
    server.local = local
    mode = f"digest for {len(passwords)} user(s)" if passwords else "open lab AS, no authentication"
    print(f"fks as: listening on udp {local} ({mode})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        peer.close()
        print("fks as: stopped", flush=True)


def run_as(listen: Endpoint, users: str | None, max_expires: int) -> int:
    try:
        asyncio.run(serve_as(listen, users, max_expires))
    except UsersError as exc:
        print(f"fks: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fks: error: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
