"""The documentation ships with the kit and agrees with it: docs/protocol.md names the words the code uses,
its example documents pass the kit's own checks, its FAC table is the default one, its profile table lists
every profile with what catches it; and nothing a user reads sends them outside the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.documents import MEDIA_TYPE, NS, NS_HYPHENLESS, parse_document
from analyzer.fac import DEFAULT_FACS
from analyzer.vocab import PACKAGE
from peers.sansio.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"
# Files others are changing as this is written; their references outside the project are theirs to remove.
LEFT_TO_OTHERS = {"peers/targets/lab.py"}


def protocol() -> str:
    return PROTOCOL.read_text(encoding="utf-8")


def test_protocol_names_the_package_media_type_and_namespaces() -> None:
    text = protocol()
    for word in (PACKAGE, MEDIA_TYPE, NS, NS_HYPHENLESS, "multipart/mixed"):
        assert f"`{word}`" in text, word


def test_every_example_document_passes_the_kits_checks() -> None:
    examples = re.findall(r"```xml\n(.*?)```", protocol(), re.S)
    documents = [parse_document(example.encode("iso-8859-1")) for example in examples]
    roots = [d.root for d in documents]
    assert roots == ["DoNotDisturbEvent", "ForwardingEvent", "SetDoNotDisturb", "SetForwarding"]
    assert all(d.problems == () for d in documents), [(d.root, d.problems) for d in documents]


def test_the_fac_table_is_the_default_one() -> None:
    rows = re.findall(r"^\| `(\*\d+)` / `(\*\d+)` \| (\w+) on / off", protocol(), re.M)
    table = {on: (feature, True) for on, _, feature in rows} | {off: (feature, False) for _, off, feature in rows}
    assert table == {code: (fac.feature, fac.on) for code, fac in DEFAULT_FACS.items()}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_described_with_what_catches_it(name: str) -> None:
    row = next((line for line in protocol().splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"docs/protocol.md does not describe the profile {name}"
    caught = set(re.findall(r"(FKS-[A-Z]+-\d+) (\w+)", row.split("|")[3]))
    assert caught == set(PROFILES[name].catches)


def test_nothing_a_user_reads_points_outside_the_project() -> None:
    pattern = re.compile(r"\.\./shared|PROTOCOL\.md|CONFORMANCE\.md|DESIGN\.md")
    files = [ROOT / "README.md"] + [p for d in ("analyzer", "peers", "docs") for p in sorted((ROOT / d).rglob("*"))]
    hits = []
    for path in files:
        if path.suffix not in (".py", ".md", ".json", ".xsd") or "__pycache__" in path.parts:
            continue
        if str(path.relative_to(ROOT)) in LEFT_TO_OTHERS:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
