"""A small web "portal" for the AS emulator, in the spirit of BroadWorks Xsi-Actions.

``GET`` / ``PUT`` ``/com.broadsoft.xsi-actions/v2.0/user/<user>/services/<Service>`` with ``Service`` one
of ``DoNotDisturb``, ``CallForwardingAlways``, ``CallForwardingBusy``, ``CallForwardingNoAnswer``; the
body is Xsi-style XML, e.g. ``<DoNotDisturb xmlns="http://schema.broadsoft.com/xsi"><active>true</active>
</DoNotDisturb>`` or ``<CallForwardingNoAnswer ...><active>true</active><forwardToPhoneNumber>1002
</forwardToPhoneNumber><numberOfRings>4</numberOfRings></CallForwardingNoAnswer>``. A ``PUT`` changes the
user's state and the AS notifies every subscription of that user (an unsolicited NOTIFY, FKS-AS-1).

``Portal.handle`` is sans-IO (method, path, body -> status, body, NOTIFYs to send); ``serve_portal`` runs
it in a thread on a stdlib HTTP server and hands the NOTIFYs to the AS's event loop. Bound beyond
loopback, it demands ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from lxml import etree

from analyzer.documents.safexml import hardened_parser
from analyzer.sip import is_number
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.features import change_request
from peers.sansio.outgoing import Outgoing

XSI_NS = "http://schema.broadsoft.com/xsi"
SERVICES = {
    "DoNotDisturb": "DND",
    "CallForwardingAlways": "CFA",
    "CallForwardingBusy": "CFB",
    "CallForwardingNoAnswer": "CFNA",
}
_PATH = re.compile(r"^/com\.broadsoft\.xsi-actions/v2\.0/user/([^/]+)/services/([A-Za-z]+)/?$")
MAX_BODY = 64 * 1024  # an Xsi service document is a few hundred bytes
CLIENT_TIMEOUT = 10.0  # seconds a client may leave a request unfinished


def body_length(headers: Message) -> tuple[int, tuple[int, bytes] | None]:
    """The body's length from the Content-Length header(s), or the refusal (status, reason) when it cannot be
    trusted: not a non-negative decimal number, several that disagree, a chunked body, or above ``MAX_BODY``."""
    if headers.get("Transfer-Encoding"):
        return 0, (400, b"Transfer-Encoding is not supported: send a Content-Length\n")
    found = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not found:
        return 0, None
    if len(found) > 1:
        return 0, (400, b"conflicting Content-Length headers\n")
    (value,) = found
    if not is_number(value):
        return 0, (400, b"Content-Length must be a non-negative decimal number\n")
    if len(value.lstrip("0")) > len(str(MAX_BODY)) or int(value) > MAX_BODY:  # never int() of 5000 digits
        return 0, (413, b"body too large\n")
    return int(value), None


def path_user(path: str) -> str | None:
    """The user a portal path is about (None: not a service path)."""
    m = _PATH.match(path)
    return m.group(1) if m else None


class Handles(Protocol):
    """What the HTTP side asks of a portal: ``Portal`` itself, or ``fks as --workers``' relay to it."""

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes, list[Outgoing]]: ...


@dataclass
class Portal:
    server: ApplicationServer
    clock: Callable[[], float]

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes, list[Outgoing]]:
        m = _PATH.match(path)
        if not m or m.group(2) not in SERVICES:
            return 404, b"unknown resource\n", []
        user, service = m.group(1), m.group(2)
        feature = SERVICES[service]
        if method == "GET":
            return 200, self._render(user, service, feature), []
        if method != "PUT":
            return 405, b"GET or PUT\n", []
        try:
            doc = self._document(user, feature, body)
        except ValueError as exc:
            return 400, f"{exc}\n".encode(), []
        return 200, b"", self.server.portal_change(user, doc, self.clock())

    def _render(self, user: str, service: str, feature: str) -> bytes:
        state = self.server.state(user)
        root = etree.Element(f"{{{XSI_NS}}}{service}", nsmap={None: XSI_NS})
        etree.SubElement(root, f"{{{XSI_NS}}}active").text = (
            "true" if (state.dnd if feature == "DND" else state.forwards[feature].active) else "false"
        )
        if feature != "DND":
            fwd = state.forwards[feature]
            etree.SubElement(root, f"{{{XSI_NS}}}forwardToPhoneNumber").text = fwd.target
            if feature == "CFNA" and fwd.rings is not None:
                etree.SubElement(root, f"{{{XSI_NS}}}numberOfRings").text = str(fwd.rings)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _document(self, user: str, feature: str, body: bytes) -> bytes:
        """The Xsi body as the package's Set* document (what a handset change would carry)."""
        parser = hardened_parser()
        if b"<!" in body:
            raise ValueError("DTD and entity declarations are refused")
        try:
            root = etree.fromstring(body, parser)
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise ValueError(f"not XML: {exc}") from None
        fields = {etree.QName(el).localname: (el.text or "").strip() for el in root if isinstance(el.tag, str)}
        if fields.get("active") not in ("true", "false"):
            raise ValueError("<active> must be true or false")
        on = fields["active"] == "true"
        if feature == "DND":
            return change_request("DND", on, user)
        target = fields.get("forwardToPhoneNumber") or self.server.state(user).forwards[feature].target
        if on and not target:
            raise ValueError("<forwardToPhoneNumber> is needed to activate forwarding")
        rings = fields.get("numberOfRings")
        if rings is not None and not is_number(rings):
            raise ValueError("<numberOfRings> must be a number")
        return change_request(feature, on, user, target, int(rings) if rings else None)


def serve_portal(
    portal: Handles,
    send: Callable[[list[Outgoing]], None],
    loop: asyncio.AbstractEventLoop | None,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
) -> ThreadingHTTPServer:
    """Start the portal in a daemon thread; NOTIFYs are sent from ``loop`` (the AS's event loop; None: the
    portal sends none itself, a relay's AS process does)."""
    if not ipaddress.ip_address(host).is_loopback and not token:
        raise ValueError("the portal needs a token (--portal-token) when bound beyond loopback")

    class Handler(BaseHTTPRequestHandler):
        timeout = CLIENT_TIMEOUT  # a client that stops sending mid-request does not hold a thread forever

        def _serve(self) -> None:
            given = self.headers.get("Authorization", "").encode("utf-8", "replace")
            if token and not hmac.compare_digest(given, f"Bearer {token}".encode()):
                self._reply(401, b"token required\n")
                return
            length, refusal = body_length(self.headers)
            if refusal is not None:
                self.close_connection = True  # the body was not read: nothing after it can be trusted
                self._reply(*refusal)
                return
            try:
                body = self.rfile.read(length) if length else b""
            except OSError:  # the client went quiet mid-body (the socket timeout) or away
                self.close_connection = True
                return
            if len(body) < length:
                self.close_connection = True
                self._reply(400, b"body shorter than its Content-Length\n")
                return
            status, payload, notifies = portal.handle(self.command, self.path, body)
            if notifies and loop is not None:
                loop.call_soon_threadsafe(send, notifies)
            self._reply(status, payload)

        def _reply(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Type", "application/xml" if payload.startswith(b"<?xml") else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # the AS logs the NOTIFYs that follow; the request itself is not a SIP message

    httpd = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=httpd.serve_forever, name="fks-portal", daemon=True).start()
    return httpd
