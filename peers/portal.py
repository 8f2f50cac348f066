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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

from analyzer.documents import build_document
from analyzer.sip import is_number
from peers.broadworks import ApplicationServer
from peers.features import FORWARDING
from peers.outgoing import Outgoing

XSI_NS = "http://schema.broadsoft.com/xsi"
SERVICES = {
    "DoNotDisturb": "DND",
    "CallForwardingAlways": "CFA",
    "CallForwardingBusy": "CFB",
    "CallForwardingNoAnswer": "CFNA",
}
_PATH = re.compile(r"^/com\.broadsoft\.xsi-actions/v2\.0/user/([^/]+)/services/([A-Za-z]+)/?$")
MAX_BODY = 64 * 1024


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
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
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
            return build_document("SetDoNotDisturb", device=user, dnd=on)
        target = fields.get("forwardToPhoneNumber") or self.server.state(user).forwards[feature].target
        if on and not target:
            raise ValueError("<forwardToPhoneNumber> is needed to activate forwarding")
        rings = fields.get("numberOfRings")
        if rings is not None and not is_number(rings):
            raise ValueError("<numberOfRings> must be a number")
        return build_document(
            "SetForwarding",
            device=user,
            forwarding_type=FORWARDING[feature],
            active=on,
            target=target,
            ring_count=int(rings) if rings and feature == "CFNA" else None,
        )


def serve_portal(
    portal: Portal,
    send: Callable[[list[Outgoing]], None],
    loop: asyncio.AbstractEventLoop,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
) -> ThreadingHTTPServer:
    """Start the portal in a daemon thread; NOTIFYs are sent from ``loop`` (the AS's event loop)."""
    if not ipaddress.ip_address(host).is_loopback and not token:
        raise ValueError("the portal needs a token (--portal-token) when bound beyond loopback")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            if token and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {token}"):
                self._reply(401, b"token required\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, b"body too large\n")
                return
            body = self.rfile.read(length) if length else b""
            status, payload, notifies = portal.handle(self.command, self.path, body)
            if notifies:
                loop.call_soon_threadsafe(send, notifies)
            self._reply(status, payload)

        def _reply(self, status: int, payload: bytes) -> None:
            self.send_response(status)
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
