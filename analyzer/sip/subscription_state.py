"""The ``Subscription-State`` header (RFC 6665 section 8.2.3), parsed strictly by its grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.sip.headers import TOKEN, is_number, parse_params

_SUBSTATE = re.compile(rf"^\s*({TOKEN})\s*((?:;\s*{TOKEN}\s*(?:=\s*(?:{TOKEN}|\"[^\"]*\"))?\s*)*)$")
_KNOWN_SUBSTATES = ("active", "pending", "terminated")


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A parsed ``Subscription-State`` value; ``problem`` says why it is malformed (None when well formed)."""

    state: str
    expires: int | None
    reason: str | None
    problem: str | None


def parse_subscription_state(value: str) -> SubscriptionState:
    """Parse strictly by the RFC 6665 grammar: ``active, 3600`` is reported as malformed, not guessed at."""
    m = _SUBSTATE.match(value)
    if not m:
        state = re.split(r"[\s;,]", value.strip(), maxsplit=1)[0].lower()
        return SubscriptionState(state, None, None, f"malformed Subscription-State {value.strip()!r}")
    state, params = parse_params(value)
    state = state.strip().lower()
    problem = None
    expires = None
    if "expires" in params:
        if is_number(params["expires"]):
            expires = int(params["expires"])
        else:
            problem = f"expires={params['expires']!r} is not a number"
    if state not in _KNOWN_SUBSTATES:
        problem = f"unknown subscription state {state!r}"
    return SubscriptionState(state, expires, params.get("reason"), problem)
