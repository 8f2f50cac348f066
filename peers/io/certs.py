"""Certificates for TLS on loopback, made at run time (trustme): a lab CA and a certificate for 127.0.0.1 and
localhost signed by it. Nothing is committed: every lab run or test makes fresh ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class LabCertificates:
    """PEM files: the CA (what a peer checks the other end against), a certificate and its private key."""

    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: str | Path, names: tuple[str, ...] = LOOPBACK_NAMES, prefix: str = "") -> LabCertificates:
    """A fresh CA and a certificate for ``names`` in ``folder`` (``prefix`` keeps several sets apart)."""
    import trustme  # only TLS runs pay for the import of cryptography

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="fks lab CA")
    leaf = ca.issue_cert(*names)
    paths = LabCertificates(folder / f"{prefix}ca.pem", folder / f"{prefix}cert.pem", folder / f"{prefix}key.pem")
    ca.cert_pem.write_to_path(str(paths.ca))
    leaf.cert_chain_pems[0].write_to_path(str(paths.cert))
    leaf.private_key_pem.write_to_path(str(paths.key))
    paths.key.chmod(0o600)
    return paths


@dataclass(frozen=True)
class TlsFiles:
    """TLS files given for a real device (``--fks-tls-*``): our certificate and key, the CA of theirs."""

    cert: str | None = None
    key: str | None = None
    ca: str | None = None


class LabTls:
    """A lab's TLS material in a temporary folder: fresh certificates and the key log of its sessions. On
    loopback both ends show the lab certificate and check the other's against the lab CA (mutual TLS, as an
    operator that provisions its bases with certificates runs it); ``given`` files replace the lab's, for a
    real device. ``close`` removes the folder."""

    def __init__(self, given: TlsFiles | None = None) -> None:
        import tempfile

        from peers.io.tls import TlsOptions

        given = given or TlsFiles()
        self._folder = tempfile.TemporaryDirectory(prefix="fks-tls-")
        self.certificates = make_certificates(self._folder.name)
        self.keylog = Path(self._folder.name) / "keys.txt"
        c = self.certificates
        cert, key = (given.cert, given.key) if given.cert else (str(c.cert), str(c.key))
        self.options = TlsOptions(cert, key, given.ca or str(c.ca), keylog=str(self.keylog))

    def close(self) -> None:
        self._folder.cleanup()
