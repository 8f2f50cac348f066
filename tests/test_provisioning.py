"""Gigaset provisioning files: accounts, the FeatureKeySyncActive switch, PRV-4 problems, secrets kept out."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.provisioning import ProvisioningError, parse_provisioning

N870 = b"""<?xml version="1.0" encoding="UTF-8"?>
<provisioning version="1.1" productID="e2">
  <nvm>
    <param name="SipProvider.1.Domain" value="example.test"/>
    <oper name="add_hs" value="00001"><param name="hs.RegStatus" value="ToReg"/></oper>
    <param name="SipAccount.029e74a599.UserName" value="1001"/>
    <param name="SipAccount.029e74a599.AuthPassword" value="s3cret-pw"/>
    <param name="SipAccount.029e74a599.ProviderId" value="1"/>
    <param name="SipAccount.029e74a599.FeatureKeySyncActive" value="1"/>
    <param name="SipAccount.00001.UserName" value="1002"/>
    <param name="SipAccount.00001.FeatureKeySyncActive" value="0"/>
    <param name="SipAccount.00002.UserName" value="1003"/>
  </nvm>
</provisioning>
"""


def test_accounts_ids_and_aor() -> None:
    prov = parse_provisioning(N870, model="N870", internal_telephony=False)
    assert set(prov.accounts) == {"029e74a599", "00001", "00002"}
    first = prov.accounts["029e74a599"]
    assert first.fks_enabled and first.aor == "sip:1001@example.test" and first.auth_password == "s3cret-pw"
    assert not prov.accounts["00001"].fks_enabled and prov.accounts["00002"].fks_value is None
    assert prov.account_for("1002") is prov.accounts["00001"] and prov.account_for("9999") is None
    assert (prov.model, prov.internal_telephony, prov.problems) == ("N870", False, ())


def test_password_never_printed() -> None:
    prov = parse_provisioning(N870)
    assert "s3cret-pw" not in repr(prov) and "s3cret-pw" not in str(prov.accounts["029e74a599"])


@pytest.mark.parametrize(
    ("param", "words"),
    [
        ('<param name="SipAccount.00001.FeatureKeySyncActive" value="true"/>', "0 or 1"),
        ('<param name="SipAccount.00001.FeatureKeySyncActive" value=""/>', "0 or 1"),
        ('<param name="SipAccount.00001.featurekeysyncactive" value="1"/>', "misspelt"),
        ('<param name="SipAccount.7.FeatureKeySyncActive" value="1"/>', "neither an IPUI nor a slot"),
        ('<param name="FeatureKeySyncActive" value="1"/>', "not of the form"),
    ],
)
def test_prv_4_problems(param: str, words: str) -> None:
    prov = parse_provisioning(f'<provisioning version="1.1"><nvm>{param}</nvm></provisioning>'.encode())
    assert any(words in p.reason for p in prov.problems), prov.problems


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml", b"<html/>", b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><provisioning/>'],
)
def test_not_a_provisioning_file(data: bytes) -> None:
    with pytest.raises(ProvisioningError):
        parse_provisioning(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_arbitrary_bytes_raise_only_provisioning_error(data: bytes) -> None:
    with contextlib.suppress(ProvisioningError):
        parse_provisioning(data)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=20), max_size=8))
def test_arbitrary_parameters_raise_only_provisioning_error(params: dict[str, str]) -> None:
    from xml.sax.saxutils import quoteattr

    body = "".join(f"<param name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in params.items())
    with contextlib.suppress(ProvisioningError):
        parse_provisioning(f"<provisioning><nvm>{body}</nvm></provisioning>".encode())
