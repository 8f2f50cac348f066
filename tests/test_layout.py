"""The house rules of the layout, read from the source with ``ast``: imports run one way (analyzer never
imports peers), no import cycle among analyzer's modules, no product module past 500 lines, and each word
of ``analyzer/vocab.py`` defined there only (never assigned its literal value elsewhere)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500
# Where a vocabulary word must not be defined again: the product, the captures' generator, the tools.
VOCAB_FOLDERS = ("analyzer", "peers", "steps", "captures", "benchmarks", "tools")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path, root: Path = ROOT) -> str:
    """The package a module's relative imports start from: itself for an ``__init__``."""
    name = module_name(path, root)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except what sits under ``if TYPE_CHECKING:`` (never imported when the code runs)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imported(source: str, package: str, modules: Iterable[str] | None = None) -> set[str]:
    """The modules a source imports, at the top or inside a function. ``from a import b`` imports ``a.b`` when
    that is one of ``modules``, else ``a`` (without ``modules``: both, as either may be meant). ``package``:
    the module's own package, for relative imports."""
    known = set(modules) if modules is not None else None
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if known is None:
                    out.update((base, sub))
                else:
                    out.add(sub if sub in known else base)
    return out


def graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports."""
    files = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    out = {}
    for name, path in files.items():
        found = imported(path.read_text(encoding="utf-8"), package_of(path, root), files)
        out[name] = {m for m in found if m in files and m != name}
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph, each once (as the path that closes it, found depth first)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def vocabulary(source: str) -> dict[str | bytes, str]:
    """The literal values of the vocabulary module's constants (the long ones: "DND" is also plain text)."""
    words: dict[str | bytes, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            for sub in ast.walk(node.value):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) > 4:
                    words[sub.value] = node.targets[0].id
                    words[sub.value.encode()] = node.targets[0].id
    return words


def _defined(value: ast.expr) -> Iterable[ast.expr]:
    """The parts of an assigned value that would define a word again: the value itself, the keys and values
    of a dict, the items of a tuple, list or set, the pattern of ``re.compile``."""
    if isinstance(value, ast.Dict):
        return [k for k in value.keys if k is not None] + value.values
    if isinstance(value, ast.Tuple | ast.List | ast.Set):
        return value.elts
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "re.compile" and value.args:
        return [value.args[0]]
    return [value]


def redefinitions(source: str, words: dict[str | bytes, str]) -> list[tuple[int, str]]:
    """(line, constant) of each assignment in ``source`` that writes a vocabulary word as a literal."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            for part in _defined(node.value):
                if isinstance(part, ast.Constant) and isinstance(part.value, str | bytes) and part.value in words:
                    out.append((node.lineno, words[part.value]))
    return out


def long_modules(folder: str) -> list[str]:
    return sorted(
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in (ROOT / folder).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    )


# -- the rules, on the tree -----------------------------------------------------------------------------


def upward_imports(paths: Iterable[Path]) -> list[str]:
    """Each import of peers or steps by the given analyzer modules."""
    offenders = []
    for path in paths:
        for mod in sorted(imported(path.read_text(encoding="utf-8"), package_of(path))):
            if mod.split(".")[0] in ("peers", "steps"):
                offenders.append(f"{path.relative_to(ROOT)} imports {mod}")
    return offenders


def test_analyzer_never_imports_peers_or_steps() -> None:
    modules = sorted(p for p in (ROOT / "analyzer").rglob("*.py") if p != ROOT / "analyzer" / "cli.py")
    assert len(modules) > 40 and upward_imports(modules) == []


def test_the_audit_command_line_never_imports_peers() -> None:
    assert upward_imports([ROOT / "analyzer" / "cli.py"]) == []


def test_no_import_cycle_among_analyzer_modules() -> None:
    edges = graph(ROOT, "analyzer")
    assert len(edges) > 40  # the graph was read (a broken reader must not pass as "no cycles")
    assert cycles(edges) == []


@pytest.mark.parametrize("folder", ["analyzer", "steps", "peers"])
def test_no_product_module_passes_500_lines(folder: str) -> None:
    assert long_modules(folder) == []


def test_each_vocabulary_word_is_defined_once() -> None:
    words = vocabulary((ROOT / "analyzer" / "vocab.py").read_text(encoding="utf-8"))
    assert {"PACKAGE", "MEDIA_TYPE", "NS", "NS_HYPHENLESS", "FORWARDING_TYPES"} <= set(words.values())
    offenders = []
    for folder in VOCAB_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "analyzer" / "vocab.py":
                continue
            for line, name in redefinitions(path.read_text(encoding="utf-8"), words):
                offenders.append(f"{path.relative_to(ROOT)}:{line} writes {name}'s value")
    assert offenders == []


# -- the checks themselves catch what they are for --------------------------------------------------------


def test_the_import_reader_sees_every_form_of_import() -> None:
    source = "import peers.lab\nfrom analyzer.sip import peek\ndef f():\n    from . import model\n"
    source += "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from analyzer import audit\n"
    got = imported(source, "analyzer.documents")
    assert {"peers.lab", "analyzer.sip", "analyzer.sip.peek", "analyzer.documents.model"} <= got
    assert "analyzer.audit" not in got  # only for the type checker


def test_the_cycle_finder_finds_a_cycle_and_no_false_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_cycle_finder_reads_a_real_package(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "audit.py").write_text("from pkg.partitions import judge\n")
    (tmp_path / "pkg" / "partitions.py").write_text("def judge():\n    from pkg import audit\n")
    assert cycles(graph(tmp_path, "pkg")) == [["pkg.audit", "pkg.partitions", "pkg.audit"]]


def test_a_redefined_word_is_found_in_each_form() -> None:
    words = vocabulary('PACKAGE = "as-feature-event"\nTYPES = {"forwardBusy": "CFB"}\n')
    source = (
        'PKG = "as-feature-event"\n'
        'MAP = {"CFB": "forwardBusy"}\n'
        '_OURS = re.compile(rb"as-feature-event", re.I)\n'
        'doc = build(forwarding_type="forwardBusy")\n'  # a use of the word as data: no definition
        "ok = PACKAGE\n"
    )
    assert redefinitions(source, words) == [(1, "PACKAGE"), (2, "TYPES"), (3, "PACKAGE")]


@pytest.mark.parametrize("folder", ["analyzer", "peers"])
def test_the_readme_layout_table_names_every_module(folder: str) -> None:
    """README's layout table is the map of the tree: each module and subpackage of ``folder`` is named in its row."""
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"| `{folder}/`"))
    named = set(re.findall(r"`([\w./*-]+)`", row))
    base = ROOT / folder
    modules = {p.stem for p in base.rglob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in base.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(m for m in modules | packages if m not in named and f"{m}/" not in named)
    assert not missing, f"README's layout row of {folder}/ does not name {missing}"
