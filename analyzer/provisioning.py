"""Gigaset provisioning files: which handset account has Feature Key Synchronization switched on.

Format (PROTOCOL.md "Gigaset provisioning"): ``<provisioning version="1.1" productID="e2"><nvm>`` with
``<param name="SipAccount.<id>.FeatureKeySyncActive" value="0|1"/>`` per account, ``<id>`` being the handset's
IPUI (10 hex digits) or a 5-digit slot (``<oper name="add_hs" value="00001">``). The same file maps an
account to its SIP identity (``UserName``, ``ProviderId`` -> ``SipProvider.<pid>.Domain``).

Model and internal telephony: the N-family files all say ``productID="e2"`` and no parameter naming the
model or the internal-telephony setting is documented in the sources consulted, so both come from the
caller's options (``--model``, ``--internal-telephony``); the file's values stay ``None``.

Sans-IO: takes bytes. ``AuthPassword`` is kept for the peers but never shown (``repr=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

_ID = re.compile(r"^(?:[0-9A-Fa-f]{10}|[0-9]{5})$")
_ACCOUNT_PARAM = re.compile(r"^SipAccount\.([^.]+)\.([A-Za-z]+)$")
_PROVIDER_PARAM = re.compile(r"^SipProvider\.([^.]+)\.([A-Za-z]+)$")
_FKS = "FeatureKeySyncActive"
_MAX_BYTES = 10_000_000


class ProvisioningError(ValueError):
    """The file is not a Gigaset provisioning file (the one error ``parse_provisioning`` raises)."""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    user_name: str | None
    auth_name: str | None
    display_name: str | None
    provider_id: str | None
    domain: str | None
    fks_value: str | None
    auth_password: str | None = field(default=None, repr=False)

    @property
    def fks_enabled(self) -> bool:
        return self.fks_value == "1"

    @property
    def aor(self) -> str | None:
        return f"sip:{self.user_name}@{self.domain}" if self.user_name and self.domain else None


@dataclass(frozen=True, slots=True)
class ParamProblem:
    """A provisioning parameter that breaks FKS-PRV-4."""

    name: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Provisioning:
    accounts: dict[str, Account]
    model: str | None
    internal_telephony: bool | None
    problems: tuple[ParamProblem, ...]

    def account_for(self, user: str, domain: str | None = None) -> Account | None:
        for account in self.accounts.values():
            if account.user_name == user and (domain is None or account.domain in (None, domain)):
                return account
        return None


def _params(root: etree._Element) -> list[tuple[str, str]]:
    return [
        (el.get("name", ""), el.get("value", ""))
        for el in root.iter("param")
        if isinstance(el.tag, str) and el.get("name") is not None
    ]


def parse_provisioning(
    data: bytes, *, model: str | None = None, internal_telephony: bool | None = None
) -> Provisioning:
    """Read the accounts and check the FeatureKeySyncActive parameters (FKS-PRV-4)."""
    if len(data) > _MAX_BYTES:
        raise ProvisioningError(f"provisioning file of {len(data)} bytes is too large")
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", data, re.I):
        raise ProvisioningError("provisioning file has a DTD or entity declarations (refused)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ProvisioningError(f"not XML: {str(exc).splitlines()[0] if str(exc) else 'parse error'}") from None
    if root is None or not isinstance(root.tag, str) or etree.QName(root).localname != "provisioning":
        raise ProvisioningError("root element is not <provisioning>")
    accounts: dict[str, dict[str, str]] = {}
    providers: dict[str, dict[str, str]] = {}
    problems: list[ParamProblem] = []
    for name, value in _params(root):
        account = _ACCOUNT_PARAM.match(name)
        provider = _PROVIDER_PARAM.match(name)
        if account:
            ident, key = account.groups()
            if key.lower() == _FKS.lower() and key != _FKS:
                problems.append(ParamProblem(name, value, f"misspelt: the parameter is {_FKS}"))
                continue
            if key == _FKS:
                if not _ID.match(ident):
                    problems.append(ParamProblem(name, value, f"account id {ident!r} is neither an IPUI nor a slot"))
                if value not in ("0", "1"):
                    problems.append(ParamProblem(name, value, "value must be 0 or 1"))
            accounts.setdefault(ident, {})[key] = value
        elif provider:
            pid, key = provider.groups()
            providers.setdefault(pid, {})[key] = value
        elif _FKS.lower() in name.lower():
            problems.append(ParamProblem(name, value, f"not of the form SipAccount.<id>.{_FKS}"))
    built = {}
    for ident, values in accounts.items():
        pid = values.get("ProviderId")
        built[ident] = Account(
            ident,
            values.get("UserName"),
            values.get("AuthName"),
            values.get("DisplayName"),
            pid,
            providers.get(pid or "", {}).get("Domain"),
            values.get(_FKS),
            auth_password=values.get("AuthPassword"),
        )
    return Provisioning(built, model, internal_telephony, tuple(problems))
