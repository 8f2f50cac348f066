"""Gigaset provisioning files: accounts, the FeatureKeySyncActive switch, PRV-4 problems, secrets kept out."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.provisioning import Provisioning, ProvisioningError, parse_provisioning

DATA = Path(__file__).parent / "data" / "provisioning"
PASSWORDS = ("fake-pw-1001", "fake-pw-1002", "fake-pw-1003", "fake-pw-2001", "fake-pw-3001")


def sample(name: str, **options: object) -> Provisioning:
    return parse_provisioning((DATA / name).read_bytes(), **options)


def inline(*params: str, root: str = "provisioning") -> Provisioning:
    return parse_provisioning(f'<{root} version="1.1" productID="e2"><nvm>{"".join(params)}</nvm></{root}>'.encode())


def param(name: str, value: str | None = "1") -> str:
    return f"<param name={quoteattr(name)}" + ("" if value is None else f" value={quoteattr(value)}") + "/>"


# ---------------------------------------------------------------- accounts


def test_n870_accounts_by_ipui() -> None:
    prov = sample("n870_ipui_accounts.xml")
    assert list(prov.accounts) == ["029e74a599", "029e74a59a", "03b1c2d3e4"]
    on, off, default = prov.accounts.values()
    assert (on.fks_value, on.fks_enabled, off.fks_value, off.fks_enabled) == ("1", True, "0", False)
    assert (default.fks_value, default.fks_enabled) == (None, False)
    assert (on.user_name, on.auth_name, on.display_name, on.provider_id) == (
        "1001",
        "1001-auth",
        "Reception",
        "0",
    )
    assert (on.domain, on.aor, on.auth_password) == ("example.test", "sip:1001@example.test", "fake-pw-1001")
    assert (prov.model, prov.internal_telephony, prov.problems) == (None, None, ())


def test_n670_accounts_by_slot_with_options() -> None:
    prov = sample("n670_slot_accounts.xml", model="n670", internal_telephony=True)
    assert (prov.model, prov.internal_telephony) == ("N670", True)
    assert {k: (a.user_name, a.fks_value) for k, a in prov.accounts.items()} == {
        "00001": ("2001", "1"),
        "00002": ("2002", "0"),
    }
    assert prov.accounts["00001"].aor == "sip:2001@example.test" and prov.problems == ()


def test_the_file_never_states_model_or_internal_telephony() -> None:
    prov = sample("n670_slot_accounts.xml")
    assert (prov.model, prov.internal_telephony) == (None, None)
    assert sample("n870_ipui_accounts.xml", model="N870E ").model == "N870E"


def test_params_are_read_wherever_they_sit() -> None:
    data = (
        b'<provisioning version="1.1" productID="e2">'
        b'<param name="SipAccount.00001.UserName" value="1001"/>'
        b'<nvm><oper name="add_hs" value="00001">'
        b'<param name="SipAccount.00001.FeatureKeySyncActive" value="1"/></oper></nvm>'
        b"</provisioning>"
    )
    account = parse_provisioning(data).accounts["00001"]
    assert (account.user_name, account.fks_enabled) == ("1001", True)


def test_account_without_provider_block_has_no_aor() -> None:
    prov = inline(param("SipAccount.00001.UserName", "1001"), param("SipAccount.00001.ProviderId", "3"))
    account = prov.accounts["00001"]
    assert (account.domain, account.aor) == (None, None)


def test_account_for_matches_user_and_domain() -> None:
    prov = sample("n870_ipui_accounts.xml")
    assert prov.account_for("1002") is prov.accounts["029e74a59a"]
    assert prov.account_for("1002", "EXAMPLE.test") is prov.accounts["029e74a59a"]
    assert prov.account_for("1002", "elsewhere.test") is None
    assert prov.account_for("9999") is None
    two = inline(
        param("SipProvider.0.Domain", "a.test"),
        param("SipAccount.00001.UserName", "1001"),
        param("SipAccount.00002.UserName", "1001"),
        param("SipAccount.00002.ProviderId", "0"),
    )
    assert two.account_for("1001", "a.test") is two.accounts["00002"]  # an exact domain beats an unknown one
    assert two.account_for("1001", "b.test") is two.accounts["00001"]  # an unknown domain may still match


# ---------------------------------------------------------------- FKS-PRV-4


def test_the_invalid_sample_names_every_fault() -> None:
    prov = sample("invalid_params.xml")
    found = {(p.name, p.value): p.reason for p in prov.problems}
    expected = {
        ("FeatureKeySyncActive", "1"): "not of the form SipAccount.<id>.FeatureKeySyncActive",
        ("SipAccount.00001.FeatureKeySyncActive", "true"): "value 'true' must be 0 or 1",
        ("SipAccount.00002.FeatureKeySyncActive", "2"): "value '2' must be 0 or 1",
        ("SipAccount.00003.FeatureKeySyncActive", ""): "value '' must be 0 or 1",
        ("SipAccount.00004.featurekeysyncactive", "1"): "wrong case",
        ("SipAccount.00005.FeatureKeySynchActive", "1"): "misspelt",
        ("SipAccount.7.FeatureKeySyncActive", "1"): "neither an IPUI (10 hex digits) nor a slot (5 digits)",
        ("SipAccount.029E74A5.FeatureKeySyncActive", "1"): "neither an IPUI",
        ("SipAccount.00008.FeatureKeySyncActive", "1"): "set twice with different values ('0', then '1')",
        ("SipAccount.00009.FeatureKeySyncActive", ""): "has no value attribute",
    }
    for key, words in expected.items():
        assert words in found.get(key, ""), (key, prov.problems)
    assert len(prov.problems) == 11  # FeatureKeySyncActive twice: under <provisioning> and inside <oper>


def test_faulty_values_are_kept_raw_and_misnamed_params_set_nothing() -> None:
    accounts = sample("invalid_params.xml").accounts
    assert (accounts["00001"].fks_value, accounts["00001"].fks_enabled) == ("true", False)
    assert accounts["00004"].fks_value is None and accounts["00005"].fks_value is None
    assert accounts["00006"].fks_value is None  # the prefix-less one inside <oper add_hs 00006>


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SipAccount.00001.FeatureKeySyncActive", "yes", "must be 0 or 1"),
        ("SipAccount.00001.FeatureKeySyncActive", " 1", "must be 0 or 1"),
        ("SipAccount.00001.FEATUREKEYSYNCACTIVE", "1", "wrong case"),
        ("sipaccount.00001.FeatureKeySyncActive", "1", "'sipaccount' must be written SipAccount"),
        ("SipAccounts.00001.FeatureKeySyncActive", "1", "not of the form"),
        ("hs.00001.FeatureKeySyncActive", "1", "not of the form"),
        ("SipAccount.FeatureKeySyncActive", "1", "no account id"),
        ("FeatureKeySyncActive", "1", "not of the form"),
        (" SipAccount.00001.FeatureKeySyncActive", "1", "surrounding blanks"),
        ("SipAccount.00001.FeatureKeySync", "1", "misspelt"),
        ("SipAccount.00001.FeatureSyncActive", "1", "misspelt"),
        ("SipAccount.00001.KeySyncEnabled", "1", "misspelt"),
        ("SipAccount.0001.FeatureKeySyncActive", "1", "neither an IPUI"),
        ("SipAccount.029e74a59g.FeatureKeySyncActive", "1", "neither an IPUI"),
    ],
)
def test_prv_4_problem(name: str, value: str, words: str) -> None:
    problems = inline(param(name, value)).problems
    assert any(words in p.reason for p in problems), problems
    assert all(p.name == name and p.value == value for p in problems)


@pytest.mark.parametrize("ident", ["029e74a599", "029E74A599", "00001", "00250"])
def test_valid_ids_and_values_are_no_problem(ident: str) -> None:
    for value in ("0", "1"):
        assert inline(param(f"SipAccount.{ident}.FeatureKeySyncActive", value)).problems == ()
    same_twice = inline(*[param(f"SipAccount.{ident}.FeatureKeySyncActive", "1")] * 2)
    assert same_twice.problems == ()


def test_real_gigaset_parameters_are_not_mistaken_for_the_switch() -> None:
    names = [
        "SipAccount.00001.VoiceMailActive",
        "SipAccount.00001.VoiceMailMailbox",
        "SipAccount.00001.DisplayName",
        "SipProvider.0.MWISubscription",
        "SipProvider.0.WithDeregOnHsNotReachable",
        "SipProvider.0.FailoverServerEnabled",
        "SystemSettings.global.SipMulticastEnabled",
        "SystemSettings.global.CheckSyncRebootEnabled",
        "DmGlobal.0.SuotaEnable",
        "DmGlobal.0.ZeroDisplayHsProtection",
        "Netdir.1.Activated",
        "hs.00001.DirectAccessDir",
        "Provisioning.global.ProvisioningServer",
    ]
    assert inline(*[param(n) for n in names]).problems == ()


# ---------------------------------------------------------------- secrets


def test_password_is_never_printed_or_serialised() -> None:
    for name in ("n870_ipui_accounts.xml", "n670_slot_accounts.xml", "invalid_params.xml"):
        prov = sample(name, model="N870")
        shown = [repr(prov), str(prov), json.dumps(prov.as_dict()), *map(repr, prov.problems)]
        shown += [text for a in prov.accounts.values() for text in (repr(a), str(a), json.dumps(a.as_dict()))]
        for secret in PASSWORDS:
            assert not any(secret in text for text in shown), name
    assert sample("n870_ipui_accounts.xml").accounts["029e74a599"].as_dict()["aor"] == "sip:1001@example.test"


# ---------------------------------------------------------------- not a provisioning file


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"not xml", "not well-formed"),
        (b"<html><body/></html>", "root element is <html>, not <provisioning>"),
        (b"<provisioning><nvm></provisioning>", "not well-formed"),
        (b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><provisioning>&x;</provisioning>', "DTD"),
        (b'<?xml version="1.0" encoding="UTF-7"?><provisioning/>', "UTF-7"),
        (b"<provisioning>" + b" " * 5_000_000 + b"</provisioning>", "exceeds"),
    ],
)
def test_not_a_provisioning_file(data: bytes, words: str) -> None:
    with pytest.raises(ProvisioningError, match=words) as info:
        parse_provisioning(data)
    assert "\n" not in str(info.value) and "root:" not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_arbitrary_bytes_raise_only_provisioning_error(data: bytes) -> None:
    with contextlib.suppress(ProvisioningError):
        parse_provisioning(data)


NAMES = st.one_of(
    st.text(min_size=1, max_size=30),
    st.builds(
        "{}.{}.{}".format,
        st.sampled_from(["SipAccount", "SipProvider", "sipaccount", "hs"]),
        st.sampled_from(["00001", "029e74a599", "0", "7", ""]),
        st.sampled_from(["UserName", "FeatureKeySyncActive", "featureKeySyncActive", "Domain", "ProviderId"]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(NAMES, st.none() | st.text(max_size=12)), max_size=10))
def test_arbitrary_parameters_give_consistent_accounts(params: list[tuple[str, str | None]]) -> None:
    body = "".join(param(name, value) for name, value in params if "\x00" not in name + (value or ""))
    try:
        prov = parse_provisioning(f"<provisioning><nvm>{body}</nvm></provisioning>".encode("utf-8", "replace"))
    except ProvisioningError:
        return
    for account in prov.accounts.values():
        assert account.fks_enabled == (account.fks_value == "1")
        assert account.aor is None or account.aor == f"sip:{account.user_name}@{account.domain}"
    assert all(p.reason for p in prov.problems)
