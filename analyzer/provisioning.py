"""Gigaset provisioning files: which handset account has Feature Key Synchronization on, and its SIP identity.

Format (docs/protocol.md, "What the kit reads from a Gigaset provisioning file"):
``<provisioning version="1.1" productID="e2"><nvm>`` holding ``<param name="..." value="..."/>`` elements,
some inside ``<oper>`` elements such as ``<oper name="add_hs" value="00001">``. The feature is switched per account by
``SipAccount.<id>.FeatureKeySyncActive`` (0 = disabled, the default; 1 = enabled), ``<id>`` being the
handset's IPUI (10 hex digits, Gigaset's documentation) or a 5-digit handset slot (provisioning templates
that create handsets with ``add_hs``). The same file maps an account to its SIP identity: ``UserName``,
``ProviderId`` -> ``SipProvider.<pid>.Domain``.

FKS-PRV-4 problems (``Provisioning.problems``): a FeatureKeySyncActive value other than ``0``/``1``, an id
that is neither an IPUI nor a slot, a parameter evidently meant to be FeatureKeySyncActive but misnamed
(wrong case, no ``SipAccount.<id>.`` prefix, a near miss such as ``FeatureKeySynchActive``), and the
parameter set twice with different values. A misnamed parameter sets nothing: the base only knows the exact
name, so that account counts as not enabled.

Model and internal telephony: the Gigaset sources consulted name no provisioning parameter for either.
Gigaset's feature page (teamwork.gigaset.com gigawiki, "Feature key synchronisation", pageId=826889227)
documents ``SipAccount.<IPUI>.FeatureKeySyncActive`` and says the feature is unsupported on N610/N670 while
internal telephony is enabled, but gives no parameter for that setting. Every N-series file and template
seen (that wiki's examples; wazo-provd-plugins ``plugins/wazo-gigaset/N870-83.*`` and ``Nx70-83.*``
``templates/base.tpl``) starts with the same ``<provisioning version="1.1" productID="e2">`` whatever the
model, and their XML comments name models loosely (the Nx70 template says "N870" for every model). So
neither value is read from the file: ``model`` and ``internal_telephony`` are what the caller passes
(``--model``, ``--internal-telephony``), else None.

Sans-IO: takes bytes, parsed with the same hardening as the feature documents; a file with a DTD is
refused. ``AuthPassword`` is kept for the emulated base but never shown: it is out of every repr and of
``as_dict()`` (serialise with that, not with ``dataclasses.asdict``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from lxml import etree

from analyzer.documents import DocumentError, parse_xml

FKS = "FeatureKeySyncActive"
FKS_VALUES = ("0", "1")
MODELS = ("N610", "N670", "N870", "N870E")
MAX_BYTES = 5_000_000  # an N870 with 250 handsets needs about 200 kB
_ACCOUNT_FIELDS = {  # SipAccount.<id>.<key> -> Account field
    "UserName": "user_name",
    "AuthName": "auth_name",
    "DisplayName": "display_name",
    "ProviderId": "provider_id",
    "AuthPassword": "auth_password",
}
_ID = re.compile(r"[0-9A-Fa-f]{10}|[0-9]{5}")  # IPUI or handset slot
_ACCOUNT_PARAM = re.compile(r"SipAccount\.([^.]+)\.([^.]+)")
_PROVIDER_PARAM = re.compile(r"SipProvider\.([^.]+)\.([^.]+)")
_NEAR_MISS = 0.8  # difflib ratio from which a name's last part reads as a misspelt FeatureKeySyncActive
_Values = dict[str, str | None]  # one account or provider block: key -> value


class ProvisioningError(ValueError):
    """Not a Gigaset provisioning file (the one error ``parse_provisioning`` raises); one line."""


@dataclass(frozen=True, slots=True)
class Account:
    """One handset's SIP account as the file provisions it."""

    id: str  # as written after "SipAccount." (IPUI such as 029e74a599, or a slot such as 00001)
    user_name: str | None
    auth_name: str | None
    display_name: str | None
    provider_id: str | None
    domain: str | None  # SipProvider.<provider_id>.Domain when that block exists
    fks_value: str | None  # raw FeatureKeySyncActive value, None when the parameter is absent
    auth_password: str | None = field(default=None, repr=False)

    @property
    def fks_enabled(self) -> bool:
        return self.fks_value == "1"

    @property
    def aor(self) -> str | None:
        if not self.user_name or not self.domain:
            return None
        return f"sip:{self.user_name}@{self.domain}"

    def as_dict(self) -> dict[str, str | bool | None]:
        """Everything a report may show: every field but the password, plus ``aor`` and ``fks_enabled``."""
        return {
            "id": self.id,
            "user_name": self.user_name,
            "auth_name": self.auth_name,
            "display_name": self.display_name,
            "provider_id": self.provider_id,
            "domain": self.domain,
            "aor": self.aor,
            "fks_value": self.fks_value,
            "fks_enabled": self.fks_enabled,
        }


@dataclass(frozen=True, slots=True)
class ParamProblem:
    """A provisioning parameter that breaks FKS-PRV-4."""

    name: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Provisioning:
    """The accounts of one file, with the configuration that decides whether the feature can work."""

    accounts: dict[str, Account]
    model: str | None  # N610, N670, N870, N870E; from the caller (the file does not say)
    internal_telephony: bool | None  # from the caller (the file does not say)
    problems: tuple[ParamProblem, ...]

    def account_for(self, user: str, domain: str | None = None) -> Account | None:
        """The account whose UserName is ``user``; when both sides know the domain it must match too."""
        candidates = [a for a in self.accounts.values() if a.user_name == user]
        if domain is not None:
            wanted = domain.lower()
            candidates = [a for a in candidates if a.domain is None or a.domain.lower() == wanted]
            candidates.sort(key=lambda a: a.domain is None)  # an exact domain match beats an unknown one
        return candidates[0] if candidates else None

    def as_dict(self) -> dict[str, object]:
        """A serialisable view without secrets."""
        return {
            "model": self.model,
            "internal_telephony": self.internal_telephony,
            "accounts": [a.as_dict() for a in self.accounts.values()],
            "problems": [{"name": p.name, "value": p.value, "reason": p.reason} for p in self.problems],
        }


def parse_provisioning(
    data: bytes, *, model: str | None = None, internal_telephony: bool | None = None
) -> Provisioning:
    """Read the accounts and check the FeatureKeySyncActive parameters (FKS-PRV-4).

    ``model`` and ``internal_telephony`` describe the base; the file cannot say (see the module docstring).
    """
    root = _root(data)
    accounts: dict[str, _Values] = {}
    providers: dict[str, _Values] = {}
    problems: list[ParamProblem] = []
    for name, value in _params(root):
        account = _ACCOUNT_PARAM.fullmatch(name)
        if account and account[2] == FKS:
            problems += _check_fks(account[1], name, value, accounts.get(account[1], {}).get(FKS))
        elif _looks_like_fks(name):
            problems.append(ParamProblem(name, value or "", _misnamed(name)))  # and it sets nothing: not FKS
        if account:
            accounts.setdefault(account[1], {})[account[2]] = value
        elif provider := _PROVIDER_PARAM.fullmatch(name):
            providers.setdefault(provider[1], {})[provider[2]] = value
    built = {ident: _account(ident, values, providers) for ident, values in accounts.items()}
    return Provisioning(built, _model(model), internal_telephony, tuple(problems))


def _root(data: bytes) -> etree._Element:
    try:
        root, had_dtd = parse_xml(data, max_bytes=MAX_BYTES)
    except DocumentError as exc:
        raise ProvisioningError(f"provisioning file: {exc}") from None
    if had_dtd:
        raise ProvisioningError("provisioning file has a DTD / entity declarations; refused, never expanded")
    name = etree.QName(root).localname
    if name != "provisioning":
        raise ProvisioningError(f"root element is <{name}>, not <provisioning>")
    return root


def _params(root: etree._Element) -> list[tuple[str, str | None]]:
    """(name, value) of every <param> in document order, wherever it sits (nvm, oper, the root)."""
    return [(el.get("name"), el.get("value")) for el in root.iter("{*}param") if el.get("name") is not None]


def _check_fks(ident: str, name: str, value: str | None, earlier: str | None) -> list[ParamProblem]:
    """What is wrong with one ``SipAccount.<ident>.FeatureKeySyncActive`` (``earlier``: its previous value)."""
    reasons = []
    if not _ID.fullmatch(ident):
        reasons.append(f"account id {ident!r} is neither an IPUI (10 hex digits) nor a slot (5 digits)")
    if value is None:
        reasons.append("has no value attribute; must be 0 or 1")
    elif value not in FKS_VALUES:
        reasons.append(f"value {value!r} must be 0 or 1")
    if earlier is not None and value is not None and earlier != value:
        reasons.append(f"set twice with different values ({earlier!r}, then {value!r})")
    return [ParamProblem(name, value or "", reason) for reason in reasons]


def _looks_like_fks(name: str) -> bool:
    """A name evidently meant as ``SipAccount.<id>.FeatureKeySyncActive`` but not written so."""
    last = name.strip().rpartition(".")[2].casefold()
    near = difflib.SequenceMatcher(None, last, FKS.casefold()).ratio() >= _NEAR_MISS
    return near or "keysync" in name.casefold()


def _misnamed(name: str) -> str:
    expected = f"SipAccount.<id>.{FKS}"
    if name != name.strip():
        return f"name has surrounding blanks; expected {expected}"
    account = _ACCOUNT_PARAM.fullmatch(name)
    if account and account[2].casefold() == FKS.casefold():
        return f"wrong case: {account[2]!r} must be written {FKS}"
    if account:
        return f"misspelt: {account[2]!r} is not {FKS}"
    prefix, *middle = name.split(".")
    if prefix.casefold() == "sipaccount" and len(middle) == 1:
        return f"no account id; expected {expected}"
    if prefix.casefold() == "sipaccount" and prefix != "SipAccount":
        return f"wrong case: {prefix!r} must be written SipAccount"
    return f"not of the form {expected}"


def _account(ident: str, values: _Values, providers: dict[str, _Values]) -> Account:
    fields = {attr: values.get(key) for key, attr in _ACCOUNT_FIELDS.items()}
    domain = providers.get(fields["provider_id"] or "", {}).get("Domain")
    return Account(
        id=ident,
        user_name=fields["user_name"],
        auth_name=fields["auth_name"],
        display_name=fields["display_name"],
        provider_id=fields["provider_id"],
        domain=domain or None,
        fks_value=values.get(FKS),
        auth_password=fields["auth_password"],
    )


def _model(model: str | None) -> str | None:
    """The caller's model in canonical spelling (``n870e`` -> ``N870E``); other names are kept as given."""
    if model is None or not model.strip():
        return None
    canonical = model.strip().upper()
    return canonical if canonical in MODELS else model.strip()


def build_provisioning(accounts: list[tuple[str, str, str | None, str | None]], domain: str = "example.test") -> bytes:
    """A Gigaset provisioning file: ``(id, user, FeatureKeySyncActive or None for absent, password or None)``
    per handset account, one provider with ``domain``. Used by scenarios and tests to provision the base."""
    root = etree.Element("provisioning", version="1.1", productID="e2")
    nvm = etree.SubElement(root, "nvm")
    etree.SubElement(nvm, "param", name="SipProvider.0.Domain", value=domain)
    for ident, user, fks, password in accounts:
        etree.SubElement(nvm, "param", name=f"SipAccount.{ident}.UserName", value=user)
        etree.SubElement(nvm, "param", name=f"SipAccount.{ident}.ProviderId", value="0")
        if password is not None:
            etree.SubElement(nvm, "param", name=f"SipAccount.{ident}.AuthPassword", value=password)
        if fks is not None:
            etree.SubElement(nvm, "param", name=f"SipAccount.{ident}.FeatureKeySyncActive", value=fks)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
