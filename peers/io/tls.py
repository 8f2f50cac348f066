"""SIP over TLS (RFC 3261 section 26.2, RFC 5630): ``TlsPeer`` is ``TcpPeer`` with a handshake on every
connection, so framing, connection reuse (the AS's NOTIFYs go back on the phone's own connection, RFC 5923)
and Timer F are the TCP peer's. TLS 1.2 and 1.3 are accepted, nothing older.

The handshake of an accepted connection is run by the peer itself (``StreamWriter.start_tls``), not by the
listening socket, so that a client with the wrong certificate, a plain-TCP client on the TLS port or one that
stalls mid-handshake costs one log line and its connection, bounded by ``handshake_timeout``, while the peer
keeps serving the others. ``keylog`` writes the session secrets in the SSLKEYLOGFILE format (the NSS key log
that tshark's ``tls.keylog_file`` reads), so a capture of the run can be decrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from analyzer.observation import Endpoint
from peers.io.transport import Handler, TcpPeer

HANDSHAKE_TIMEOUT = 10.0  # seconds a connection gets to complete its TLS handshake
_log = logging.getLogger(__name__)


class TlsSetupError(ValueError):
    """A certificate, key or CA file is unusable: one line for the user."""


@dataclass(frozen=True)
class TlsOptions:
    """What ``fks as`` / ``fks base`` are told about TLS. ``cert``/``key``: our certificate (a server needs
    one; a client presents it when given); ``ca``: the CA the other end's certificate must chain to (a server
    given one requires client certificates); ``insecure``: a client that checks nothing (said in the log)."""

    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    insecure: bool = False
    keylog: str | None = None
    handshake_timeout: float = HANDSHAKE_TIMEOUT


def _common(context: ssl.SSLContext, opts: TlsOptions) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if opts.cert:
            context.load_cert_chain(opts.cert, opts.key)
        if opts.ca and context.verify_mode != ssl.CERT_NONE:
            context.load_verify_locations(opts.ca)
    except (OSError, ssl.SSLError) as exc:
        which = f"--cert {opts.cert} / --key {opts.key}" if opts.cert else ""
        raise TlsSetupError(f"cannot load TLS files ({which or f'--ca {opts.ca}'}): {_reason(exc)}") from None
    if opts.keylog:
        try:
            context.keylog_filename = opts.keylog
        except OSError as exc:
            raise TlsSetupError(f"cannot write key log {opts.keylog}: {exc.strerror}") from None
    return context


def server_context(opts: TlsOptions) -> ssl.SSLContext | None:
    """The context accepted connections are secured with; None without a certificate (they are refused)."""
    if not opts.cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if opts.ca:
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client must show a certificate of ``ca``
    return _common(context, opts)


def client_context(opts: TlsOptions) -> ssl.SSLContext:
    """The context our connections are opened with: the server's certificate checked against ``ca`` (or the
    system's CAs) and its name, unless ``insecure``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if opts.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not opts.ca:
        context.load_default_certs()
    return _common(context, opts)


def _reason(exc: BaseException) -> str:
    """One line for a failed handshake: OpenSSL's verify message or reason code, else the exception."""
    message = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    return str(message or type(exc).__name__)


class _PausedProtocol(asyncio.StreamReaderProtocol):
    """An accepted connection that stops reading at once: its first bytes (the ClientHello) are for the TLS
    layer ``TlsPeer._secure`` puts in between, not for the stream reader."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.pause_reading()  # type: ignore[attr-defined]  # start_tls resumes it under the TLS layer
        super().connection_made(transport)


class TlsPeer(TcpPeer):
    """SIP over TLS. ``server_ssl`` secures accepted connections (None: they are refused, a base without a
    certificate is only ever a client); ``client_ssl`` the ones we open."""

    def __init__(
        self,
        *args: object,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wire = "tls"
        self.server_ssl, self.client_ssl = server_ssl, client_ssl
        self.handshake_timeout = handshake_timeout

    def _protocol(self) -> asyncio.StreamReaderProtocol:
        loop = asyncio.get_running_loop()
        return _PausedProtocol(asyncio.StreamReader(loop=loop), self._accepted, loop=loop)

    async def hang_up(self) -> None:
        """Close every connection, the listener stays: what is sent next begins with a new handshake (a
        record that starts here must hold its connection's handshake to be decrypted)."""
        writers = [c.writer for c in self._connections.values() if c.writer is not None]
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), self.handshake_timeout)

    async def _open(self, remote: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.client_ssl is None:
            raise ConnectionError("no TLS client context")
        try:
            return await asyncio.open_connection(
                remote.host,
                remote.port,
                ssl=self.client_ssl,
                server_hostname=remote.host if self.client_ssl.check_hostname else None,
                ssl_handshake_timeout=self.handshake_timeout,
            )
        except ssl.SSLError as exc:
            raise ConnectionError(f"TLS handshake failed: {_reason(exc)}") from None

    async def _secure(self, writer: asyncio.StreamWriter) -> bool:
        peer = Endpoint(*writer.get_extra_info("peername")[:2])
        if self.server_ssl is None:
            _log.warning("refusing the TLS connection from %s: no certificate of ours (--cert)", peer)
            return False
        try:
            await asyncio.wait_for(
                writer.start_tls(self.server_ssl, ssl_handshake_timeout=self.handshake_timeout),
                self.handshake_timeout + 1,
            )
        except (OSError, TimeoutError, EOFError) as exc:  # ssl.SSLError and ConnectionError are OSErrors
            _log.warning("closing the connection from %s: TLS handshake failed: %s", peer, _reason(exc))
            return False
        return True


def tls_peer(handler: Handler, opts: TlsOptions, **kwargs: Any) -> TlsPeer:
    """A TLS peer as ``opts`` say (TlsSetupError when a file is unusable); ``kwargs`` go to ``TcpPeer``."""
    return TlsPeer(
        handler,
        server_ssl=server_context(opts),
        client_ssl=client_context(opts),
        handshake_timeout=opts.handshake_timeout,
        **kwargs,
    )


def describe(opts: TlsOptions, server_side: bool) -> str:
    """One log line: what is checked, and where the secrets go (an unchecked peer is said plainly)."""
    if server_side:
        mine = f"TLS 1.2/1.3, certificate {opts.cert}"
        theirs = f"client certificates required, checked against {opts.ca}" if opts.ca else "no client certificate"
    else:
        mine = f"TLS 1.2/1.3{f', client certificate {opts.cert}' if opts.cert else ''}"
        if opts.insecure:
            theirs = "--insecure: the AS's certificate is NOT checked"
        else:
            theirs = f"the AS's certificate checked against {opts.ca or 'the system CAs'}"
    keys = f"; session secrets appended to {opts.keylog}" if opts.keylog else ""
    return f"{mine}; {theirs}{keys}"
