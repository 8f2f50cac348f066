"""Read SIP messages out of a capture with pyshark (the project's only pyshark module): ``--reader pyshark``,
and the reader for SIP over TLS with a key log. The default reader is ``fields_reader.FieldsReader``.

tshark does the dissection (TCP reassembly, IPv4 fragments, IPv6, VLAN/GRE/ERSPAN, SCTP, WebSocket,
decode-as, TLS with a key log); this module asks it for SIP frames only (and TLS records on SIP ports, to
count what could not be decrypted), JSON restricted to the layers used, and takes each SIP message's raw
bytes from the ``sip_raw`` field, which tshark fills from the reassembled (or unmasked) data. The core
re-parses those bytes, so a live run and a capture are judged by the same code. Packets are streamed, never
kept (``keep_packets=False``).

pyshark detail that matters: with ``--no-duplicate-keys`` a frame holding several SIP messages (one TCP
segment) gives ``sip_raw`` as a list of ``[hex, offset, length, ...]`` lists, which pyshark's ``JsonLayer``
spreads over ``value`` and ``duplicate_layers``; a frame holding one gives ``value`` = the hex itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from analyzer.observation import Endpoint, Observation
from analyzer.sources.carried import carrier
from analyzer.sources.tshark import (
    APPLICATION_DATA,
    DISPLAY_FILTER,
    PREFS,
    CaptureError,
    Unread,
    check_file,
    count_frames,
    tshark_reason,
)
from analyzer.sources.tshark import decode_as as parse_decode_as

__all__ = ["CaptureReader"]

_LAYERS = "frame ip ipv6 udp tcp sctp tls sip"

# pyshark's tshark subprocess is sometimes reaped twice; asyncio then logs a harmless warning on stderr.
logging.getLogger("asyncio").setLevel(logging.ERROR)


def _innermost(pkt: Any, name: str) -> Any:
    """The innermost layer of a kind (ERSPAN/GRE captures carry an outer and an inner IP header)."""
    layer = getattr(pkt, name, None) if name in pkt else None
    if layer is None:
        return None
    return layer.duplicate_layers[-1] if layer.duplicate_layers else layer


def _raw_messages(pkt: Any) -> list[bytes]:
    layer = getattr(pkt, "sip_raw", None) if "sip_raw" in pkt else None
    if layer is None:
        return []
    if isinstance(layer.value, str):
        return [bytes.fromhex(layer.value)]
    # Several messages: value is the first [hex, offset, ...] list; pyshark splits each further list
    # again, so a duplicate layer's value is the next message's hex string itself.
    out = []
    for item in [layer.value, *(d.value for d in layer.duplicate_layers)]:
        if isinstance(item, list) and item and isinstance(item[0], str):
            out.append(bytes.fromhex(item[0]))
        elif isinstance(item, str):
            out.append(bytes.fromhex(item))
    return out


def _tls_records(pkt: Any) -> int:
    """Application-data records of a frame's TLS layers (records tshark could not decrypt)."""
    layer = getattr(pkt, "tls", None) if "tls" in pkt else None
    if layer is None:
        return 0
    count = 0
    for tls in [layer, *layer.duplicate_layers]:
        records = getattr(tls, "record", None) if "record" in tls.field_names else None
        for record in records if isinstance(records, list) else [records] if records is not None else []:
            count += str(getattr(record, "content_type", "")) == APPLICATION_DATA
    return count


class CaptureReader:
    """Iterate the SIP messages of a capture as ``Observation``s, in capture order.

    After iteration, ``packets`` is the number of frames in the file, ``sip_messages`` the number of
    messages yielded and ``errors`` the non-fatal damage found (a truncated or corrupt capture still yields
    everything read before the damage).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decode_as: Sequence[str] = (),
        keylog: str | None = None,
        tshark_path: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.decode_as = parse_decode_as(decode_as)
        self.keylog = keylog
        self.tshark_path = tshark_path or shutil.which("tshark")
        self.packets = 0
        self.sip_messages = 0
        self.errors: list[str] = []
        self._unread = Unread()

    def _open(self) -> Any:
        import pyshark

        prefs = dict(PREFS)
        if self.keylog:
            prefs["tls.keylog_file"] = str(Path(self.keylog).resolve())
        return pyshark.FileCapture(
            str(self.path),
            display_filter=DISPLAY_FILTER,
            use_json=True,
            include_raw=True,
            keep_packets=False,
            decode_as=self.decode_as or None,
            override_prefs=prefs,
            tshark_path=self.tshark_path,
            custom_parameters=["-J", _LAYERS],
            eventloop=asyncio.new_event_loop(),
        )

    def __iter__(self) -> Iterator[Observation]:
        if not self.tshark_path:
            raise CaptureError("tshark not found (install the tshark package)")
        check_file(self.path)
        if self.keylog and not Path(self.keylog).is_file():
            raise CaptureError(f"key log file {self.keylog} not found")
        capture = self._open()
        last_frame = 0
        try:
            for pkt in _packets(capture, self):
                last_frame = int(pkt.frame_info.number)
                yield from self._observations(pkt)
        finally:
            with contextlib.suppress(Exception):  # a dead tshark must not hide the real outcome
                capture.close()
            capture.close = lambda: None  # pyshark's __del__ closes again, on a loop that may be gone
        counted, damage = count_frames(self.path, self.tshark_path)
        if last_frame == 0 and not counted and damage:
            raise CaptureError(damage)  # nothing was yielded and no frame is readable: not a usable capture
        self.packets = counted if counted is not None else last_frame
        if damage and not self.errors:
            self.errors.append(f"capture damaged after frame {self.packets}: {damage}")
        if counted is None and not self.errors:
            self.errors.append("could not count the frames of the capture (capinfos failed)")
        if not self.errors and last_frame == 0 and self.packets == 0 and self.path.stat().st_size > 64:
            self.errors.append("capture holds no readable frame")
        self.errors += self._unread.errors(keylog=bool(self.keylog))

    def _observations(self, pkt: Any) -> Iterator[Observation]:
        ip = _innermost(pkt, "ip") or _innermost(pkt, "ipv6")
        protocols = str(pkt.frame_info.protocols).split(":")
        transport = carrier(protocols) or ("tcp" if "tcp" in protocols else "udp" if "udp" in protocols else "sctp")
        if "tls" in protocols and transport == "tcp":
            transport = "tls"
        layer = _innermost(pkt, {"tls": "tcp", "ws": "tcp"}.get(transport, transport))
        if ip is None or layer is None:
            return
        if "sip" not in protocols:  # TLS on a SIP port that the key log (if any) did not open
            self._unread.tls(_tls_records(pkt), int(layer.srcport), int(layer.dstport))
            return
        src = Endpoint(str(ip.src), int(layer.srcport))
        dst = Endpoint(str(ip.dst), int(layer.dstport))
        number = int(pkt.frame_info.number)
        when = float(pkt.frame_info.time_epoch)
        for data in _raw_messages(pkt):
            self.sip_messages += 1
            yield Observation(number, when, src, dst, transport, data)


def _packets(capture: Any, reader: CaptureReader) -> Iterator[Any]:
    """pyshark's iteration, with tshark's complaints turned into one-line errors or ``CaptureError``."""
    from pyshark.capture.capture import TSharkCrashException

    iterator = iter(capture)
    count = 0
    while True:
        try:
            pkt = next(iterator)
        except StopIteration:
            return
        except TSharkCrashException as exc:
            reason = tshark_reason(str(exc))
            if count == 0 and "cut short" not in reason and "corrupt" not in reason.lower():
                raise CaptureError(count_frames(reader.path, reader.tshark_path or "tshark")[1] or reason) from None
            reader.errors.append(f"capture damaged after {count} SIP frame(s): {reason}")
            return
        except (OSError, ValueError, EOFError) as exc:
            reader.errors.append(f"reading stopped after {count} SIP frame(s): {type(exc).__name__}: {exc}")
            return
        count += 1
        yield pkt
