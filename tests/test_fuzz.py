"""The fuzzing campaign's targets with bounded examples (``tests/campaign.py`` runs them for as long as it is
given): every parser of the core and the dialog engine raise nothing but their documented errors, and build ->
parse round trips hold."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.campaign import INPUTS, ROUND_TRIPS, TARGETS

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_raises_only_documented_errors(name: str) -> None:
    BOUNDED(given(INPUTS)(TARGETS[name]))()


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip(name: str) -> None:
    BOUNDED(ROUND_TRIPS[name]())()
