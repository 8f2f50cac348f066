"""Every scenario of ``features/`` (pytest-bdd binds them here; the step definitions live in this package)."""

from pytest_bdd import scenarios

scenarios("../features")
