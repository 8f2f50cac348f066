"""The conformance suite's command-line and ini options, registered for every pytest run of the project (so
``pytest tests`` knows the ``fks_*`` settings of pyproject.toml too); ``steps/conftest.py`` uses them."""

from __future__ import annotations

import pytest

# The step definitions of features/, registered as plugins (pytest-bdd's steps are fixtures): each module is
# named once here instead of star-imported into steps/conftest.py (dependencies first).
pytest_plugins = ["steps.verdicts", "steps.audits", "steps.exchange", "steps.robustness", "steps.wire"]

OPTIONS = {
    "target": ("loopback", "where the scenarios run: loopback, as, base, pcap"),
    "as": ("", "HOST:PORT of the AS under test (target as)"),
    "listen": ("127.0.0.1:5070", "HOST:PORT where our AS waits for a real base (target base)"),
    "transport": ("udp", "udp, tcp, tls, or scapy (our AS's datagrams as crafted packets; root or CAP_NET_RAW)"),
    "tls-ca": ("", "TLS: the CA the device under test's certificate chains to (default: the lab's own CA)"),
    "tls-cert": ("", "TLS: our certificate, PEM (default: one the lab makes for 127.0.0.1)"),
    "tls-key": ("", "TLS: our certificate's private key, PEM"),
    "provisioning": ("", "Gigaset provisioning file: the accounts and passwords our base uses (target as)"),
    "portal-cmd": ("", "command for a portal change; placeholders {user} {feature} {state} {target} {rings}"),
    "portal-url": ("", "Xsi-Actions base URL for portal changes (target as)"),
    "portal-token": ("", "bearer token for --fks-portal-url"),
    "operator-cmd": ("", "command run for each handset-menu action (target base); placeholders {action} {instruction}"),
    "pcap": ("", "the recorded capture (target pcap)"),
    "notify-timeout": ("5", "T_notify the scenarios are judged with, seconds (the catalogue's default)"),
    "reports": ("reports", "where captures of the scenarios go"),
    "domain": ("", "the AOR's domain when the provisioning file names none (SipProvider.<pid>.Domain)"),
    "shuffle": ("", "a seed: run the scenarios in an order shuffled by it (a stateful peer must not care)"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fks", "Feature Key Synchronization conformance suite")
    for name, (default, text) in OPTIONS.items():
        group.addoption(f"--fks-{name}", default=None, help=f"{text} (default: {default or 'none'})")
        parser.addini(f"fks_{name.replace('-', '_')}", text, default=default)
