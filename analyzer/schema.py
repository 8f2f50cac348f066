"""The JSON report's schema (``analyzer/schemas/audit.schema.json``, JSON Schema 2020-12), shipped in the package.

The schema is the stable interface of ``fks audit --format json``: its ``$id`` is written into every report
(``"schema"``), so a consumer knows which contract a file follows, and changes when a change would break one.
``python -m analyzer.schema REPORT.json ...`` checks reports against it (needs ``jsonschema``, one of the test
extras): one line per file, exit status 0 when all are valid, 1 when one is not, 2 when one cannot be read.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import resources
from typing import Any


@cache
def audit_schema() -> dict[str, Any]:
    """The schema, read from the package's data."""
    text = resources.files("analyzer").joinpath("schemas", "audit.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


SCHEMA_ID: str = audit_schema()["$id"]


def problems(report: object) -> list[str]:
    """Where ``report`` departs from the schema, one line each (empty when it conforms)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(audit_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))
    ]


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m analyzer.schema REPORT.json ...", file=sys.stderr)
        return 2
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        print("analyzer.schema: needs the jsonschema package (pip install -e '.[test]')", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                report = json.load(fh)
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read: {exc}".splitlines()[0], file=sys.stderr)
            status = 2
            continue
        found = problems(report)
        for line in found[:20]:
            print(f"{path}: {line}", file=sys.stderr)
        if found:
            status = max(status, 1)
        else:
            print(f"{path}: valid ({SCHEMA_ID})")
    return status


if __name__ == "__main__":
    sys.exit(main())
