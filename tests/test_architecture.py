"""The store takes the engine's data, never its rules: every name a store module imports from the
engine is a class or a constant, never a function, so no engine decision runs in the store.

The import contracts in pyproject.toml (`lint-imports`, run by `make lint`) say which engine
modules the store may import at all; a module can hold both data and rules, so this holds the
store to the data within them. A rule the store must run is passed in by the shell
(daemon/owner/stages.py hands it the life cycle's)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

from helpers import REPO


def _engine_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every import from daemon.engine in a file, also inside functions
    (name "*" for a whole module: `import daemon.engine.x`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("daemon.engine"):
            found += [(node.lineno, str(node.module), alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, "*") for a in node.names if a.name.startswith("daemon.engine")
            ]
    return found


def _is_data(module: str, name: str) -> bool:
    value = getattr(importlib.import_module(module), name, None) if name != "*" else None
    return value is not None and not inspect.ismodule(value) and not inspect.isroutine(value)


def test_the_store_imports_only_data_from_the_engine() -> None:
    seen, rules = 0, []
    for path in sorted((REPO / "daemon" / "store").rglob("*.py")):
        for line, module, name in _engine_imports(path):
            seen += 1
            if not _is_data(module, name):
                rules.append(f"{path.relative_to(REPO)}:{line}: {module} {name}")
    assert seen  # the store does take the engine's types (Stage, Terms, ...): the walk found them
    assert rules == [], "the store imports engine rules; let the shell pass them in"


def _private_api_calls(root: Path) -> list[str]:
    """Calls into a dependency's private API (aiosqlite's `_execute` and `_conn`, which pinned
    its version): `file:line` of each."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\._execute\(|\._conn\b", line):
                found.append(f"{path.relative_to(REPO)}:{n}")
    return found


def test_no_private_api_of_a_dependency() -> None:
    assert _private_api_calls(REPO / "daemon") == []


def _concern_protocols() -> dict[str, type]:
    """Every concern's Protocol: the bases of the whole store's interface (but `Protocol`)."""
    from daemon.store.interface import Store

    return {base.__name__: base for base in Store.__bases__ if base.__name__ != "Protocol"}


def _methods(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")]


def test_each_store_concern_is_short() -> None:
    """One Protocol a concern, of the calls its users make: none over 20 (split one that is)."""
    counts = {name: len(_methods(p)) for name, p in _concern_protocols().items()}
    assert len(counts) >= 10
    assert {name: n for name, n in counts.items() if n > 20} == {}


def _private_store_imports(root: Path) -> list[str]:
    """`file:line name` of each `_` name a store module imports from another store module: what
    concerns share belongs in the database layer (db.py) or the row types (rows.py)."""
    found = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("daemon.store"):
                found += [
                    f"{path.name}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    return found


def test_store_modules_import_no_private_name_of_each_other() -> None:
    assert _private_store_imports(REPO / "daemon" / "store") == []


#: The one reach into a store's internals a test may make, and why: a full disk is caused by
#: capping the page count of the store's own connection (SQLite has no limit for a file, and a
#: connection of the test's own cannot cap the store's).
CAUSES_A_FAULT = {("test_isolation.py", "fill_the_disk"), ("test_isolation.py", "free_the_disk")}


def _store_internals(root: Path) -> list[str]:
    """`file:line function store._name` of each `_` attribute of a store a test uses: tests go
    through the store's interfaces, or read and plant rows in its file with sqlite3
    (helpers.query and helpers.plant)."""
    found = []
    for path in sorted(root.glob("*.py")):
        if path.name == "test_architecture.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if (path.name, fn.name) in CAUSES_A_FAULT:
                continue
            for node in ast.walk(fn):
                if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                    continue
                if node.attr.startswith("__"):
                    continue
                owner = node.value
                named = isinstance(owner, ast.Name) and "store" in owner.id.lower()
                held = isinstance(owner, ast.Attribute) and owner.attr == "store"
                if named or held:
                    found.append(f"{path.name}:{node.lineno} {fn.name} .{node.attr}")
    return sorted(set(found))


def test_tests_use_stores_through_their_interfaces() -> None:
    assert _store_internals(REPO / "tests") == []
