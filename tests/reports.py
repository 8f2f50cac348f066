"""Every JSON report a test reads goes through ``valid_report``: parsed, and held to the shipped schema."""

from __future__ import annotations

import json
from typing import Any

from analyzer.schema import problems


def valid_report(text: str) -> dict[str, Any]:
    """The report in ``text`` (``fks audit --format json`` output), after checking it against the schema."""
    doc: dict[str, Any] = json.loads(text)
    found = problems(doc)
    assert not found, "the report departs from analyzer/schemas/audit.schema.json: " + "; ".join(found[:5])
    return doc
