"""SIP carried where tshark's ``-T fields`` cannot print its bytes: inside SCTP DATA chunks, WebSocket
frames (RFC 7118, client frames masked) and TLS records tshark decrypted (RFC 3261 section 26.2). tshark
dissects SIP there (reassembled, unmasked) but no field holds those bytes; its JSON does (``sip_raw``). So a
second tshark over the same file prints only such frames as JSON lines (``-T ek -x``), started at the first
frame asked for and read along with the fields reader's own tshark (both go in frame order): a capture
without such SIP never pays for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

# The layers before "sip" in frame.protocols that put SIP where the fields reader has no bytes for it.
CARRIERS = {"sctp": "sctp", "websocket": "ws", "tls": "tls"}
FILTER = "sip && (sctp || websocket || tls)"


def carrier(protocols: list[str]) -> str | None:
    """The transport of a SIP frame whose bytes only the JSON holds ("sctp", "ws", "tls"), or None."""
    try:
        below = protocols[: protocols.index("sip")]
    except ValueError:
        return None
    for name in reversed(below):
        if name in CARRIERS:
            return CARRIERS[name]
        if name in ("udp", "tcp"):
            return None
    return None


def sip_raw(layers: dict[str, Any]) -> list[bytes]:
    """The SIP messages of one frame's JSON layers: ``sip_raw`` is one hex string, or a list when the frame
    completes several messages."""
    raw = layers.get("sip_raw")
    items = raw if isinstance(raw, list) else [raw] if raw else []
    out = []
    for item in items:
        if isinstance(item, list) and item:  # [hex, offset, length, ...] in tshark's -T json
            item = item[0]
        if isinstance(item, str):
            with contextlib.suppress(ValueError):
                out.append(bytes.fromhex(item))
    return out


class CarriedReader:
    """The SIP messages of the carried frames of one file, asked for in increasing frame order."""

    def __init__(self, command: list[str]) -> None:
        self.command = command  # tshark -r FILE ... (the same options as the fields reader's)
        self.failure = ""  # why nothing could be read, for the report
        self._proc: subprocess.Popen[bytes] | None = None
        self._errors: int | None = None  # tshark's stderr: a file descriptor of an unlinked file
        self._lines: Iterator[bytes] | None = None
        self._pending: tuple[int, list[bytes]] | None = None

    def _start(self) -> None:
        command = [*self.command, "-Y", FILTER, "-T", "ek", "-x", "-J", "frame sip"]
        self._errors, name = tempfile.mkstemp(prefix="fks-carried-")
        os.unlink(name)
        try:
            self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._errors)
        except OSError as exc:
            self.failure = f"tshark did not start: {exc.strerror}"
            return
        assert self._proc.stdout is not None
        self._lines = iter(self._proc.stdout)

    def _next(self) -> tuple[int, list[bytes]] | None:
        """The next frame tshark printed: its number and its SIP messages."""
        assert self._lines is not None
        for line in self._lines:
            try:
                doc = json.loads(line)
                layers = doc["layers"]
                number = int(layers["frame"]["frame_frame_number"])
            except (ValueError, KeyError, TypeError):
                continue  # ek's index lines, between the packets
            return number, sip_raw(layers)
        return None

    def messages(self, number: int) -> list[bytes]:
        """The SIP messages tshark found in frame ``number`` ([] when it printed none for it)."""
        if self._proc is None and not self.failure:
            self._start()
        if self._lines is None:
            return []
        while True:
            if self._pending is None:
                self._pending = self._next()
                if self._pending is None:
                    self._lines = None
                    self._note_end()
                    return []
            got, messages = self._pending
            if got > number:
                return []
            self._pending = None
            if got == number:
                return messages

    def _note_end(self) -> None:
        if self._proc is None or self._errors is None:
            return
        code = self._proc.wait()
        if code and not self.failure:
            os.lseek(self._errors, 0, os.SEEK_SET)
            text = os.read(self._errors, 4096).decode("utf-8", "replace")
            lines = [ln for ln in text.splitlines() if "Running as" not in ln]
            self.failure = (lines[0].strip() if lines else f"tshark exit status {code}")[:200]

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        if self._errors is not None:
            os.close(self._errors)
        self._proc = self._errors = self._lines = None
