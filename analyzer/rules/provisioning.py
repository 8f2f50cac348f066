"""PRV - provisioning and applicability: catalogue rules FKS-PRV-1 .. FKS-PRV-4 (capture scope).

These rules read the Gigaset provisioning file given with ``--provisioning``; without it they are
``not_applicable``. Accounts are matched to traffic by the user part of their AOR.
"""

from __future__ import annotations

from analyzer.provisioning import Account
from analyzer.rules.base import Context, Finding, capture_rule, finding
from analyzer.verdicts import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, WARN

_NO_FILE = "no provisioning file given (--provisioning)"
_AFFECTED_MODELS = ("N610", "N670")


def _subscribes_of(account: Account, ctx: Context) -> list[tuple[float, int]]:
    """(time, frame) of the account's feature-sync SUBSCRIBEs, including dialogs already settled."""
    return ctx.trace.subscribes_of(account.user_name) if account.user_name else []


def _model(ctx: Context) -> str | None:
    model = ctx.options.model or (ctx.provisioning.model if ctx.provisioning else None)
    return model.upper() if model else None


def _internal_telephony(ctx: Context) -> bool | None:
    if ctx.options.internal_telephony is not None:
        return ctx.options.internal_telephony
    return ctx.provisioning.internal_telephony if ctx.provisioning else None


def unsupported(ctx: Context) -> bool:
    """N610/N670 with internal telephony enabled: the feature does not work there (GS)."""
    return _model(ctx) in _AFFECTED_MODELS and _internal_telephony(ctx) is True


@capture_rule("FKS-PRV-1")
def prv_1(ctx: Context) -> list[Finding]:
    if ctx.provisioning is None:
        return []
    out = []
    for account in ctx.provisioning.accounts.values():
        if account.fks_enabled or not account.user_name:
            continue
        setting = "absent" if account.fks_value is None else account.fks_value
        subscribes = _subscribes_of(account, ctx)
        if subscribes:
            frames = [frame for _, frame in subscribes]
            out.append(
                finding(
                    FAIL,
                    f"account {account.user_name} (FeatureKeySyncActive {setting}) subscribes",
                    *frames,
                    expected="no SUBSCRIBE",
                    observed=f"{len(frames)} SUBSCRIBE(s)",
                )
            )
        else:
            out.append(finding(PASS, f"account {account.user_name} (FeatureKeySyncActive {setting}) stays silent"))
    return out


@capture_rule("FKS-PRV-2")
def prv_2(ctx: Context) -> list[Finding]:
    if ctx.provisioning is None or unsupported(ctx):
        return []
    out = []
    limit = ctx.options.subscribe_timeout
    for account in ctx.provisioning.accounts.values():
        if not account.fks_enabled or not account.user_name:
            continue
        registered = [
            r for r in ctx.trace.registrations if r.user == account.user_name and r.status and 200 <= r.status < 300
        ]
        if not registered:
            out.append(finding(INCONCLUSIVE, f"no successful REGISTER of account {account.user_name} in the capture"))
            continue
        reg = registered[0]
        times = sorted(when for when, _ in _subscribes_of(account, ctx) if when >= reg.time)
        frames = reg.frames[-1:]
        if times and times[0] <= reg.time + limit:
            out.append(
                finding(
                    PASS,
                    f"account {account.user_name} subscribes {times[0] - reg.time:.1f} s after REGISTER",
                    *frames,
                )
            )
        elif times:
            out.append(
                finding(
                    FAIL,
                    f"account {account.user_name} subscribes {times[0] - reg.time:.1f} s after REGISTER"
                    f" (> {limit:g} s)",
                    *frames,
                )
            )
        elif ctx.ended_before(reg.time + limit):
            out.append(
                finding(INCONCLUSIVE, f"capture ends within {limit:g} s of account {account.user_name}'s REGISTER")
            )
        else:
            out.append(
                finding(
                    FAIL,
                    f"enabled account {account.user_name} never subscribes after its REGISTER",
                    *frames,
                    expected="SUBSCRIBE",
                    observed="none",
                )
            )
    return out


@capture_rule("FKS-PRV-3", configuration=True)
def prv_3(ctx: Context) -> list[Finding]:
    if ctx.provisioning is None:
        return []
    model, internal = _model(ctx), _internal_telephony(ctx)
    if model is None:
        return [finding(NOT_APPLICABLE, "base model unknown (give --model)")]
    if not unsupported(ctx):
        why = "internal telephony off" if model in _AFFECTED_MODELS else f"{model} is not affected"
        return [
            finding(
                NOT_APPLICABLE,
                f"{model}: {why}"
                if internal is not None or model not in _AFFECTED_MODELS
                else f"{model}: internal telephony setting unknown (give --internal-telephony)",
            )
        ]
    out = []
    for account in ctx.provisioning.accounts.values():
        if not account.fks_enabled:
            continue
        subscribes = _subscribes_of(account, ctx)
        if subscribes:
            out.append(
                finding(
                    FAIL,
                    f"{model} with internal telephony: account {account.user_name} subscribes although unsupported",
                    *(frame for _, frame in subscribes),
                )
            )
        else:
            out.append(
                finding(
                    WARN,
                    f"{model} with internal telephony: FeatureKeySyncActive=1 on account {account.user_name}"
                    " is ineffective",
                )
            )
    if not out:
        out.append(finding(PASS, f"{model} with internal telephony: no account enables feature sync"))
    return out


@capture_rule("FKS-PRV-4", configuration=True)
def prv_4(ctx: Context) -> list[Finding]:
    if ctx.provisioning is None:
        return []
    problems = ctx.provisioning.problems
    if problems:
        return [finding(FAIL, f"{p.name}={p.value!r}: {p.reason}", observed=f"{p.name}={p.value}") for p in problems]
    count = sum(1 for a in ctx.provisioning.accounts.values() if a.fks_value is not None)
    return [finding(PASS, f"{count} FeatureKeySyncActive parameter(s), all valid")]


RULES = [prv_1, prv_2, prv_3, prv_4]
