"""An owner's install has only the runtime dependencies: the daemon must start on them alone.

The suite itself runs with every extra installed, so these tests run the daemon's code in a
subprocess where every installed package outside vouch's runtime dependencies (its `dependencies`
and theirs) is unimportable, as after `pip install vouch`. `.ci/install-check` does the real
thing (a wheel in a fresh virtual environment); this catches the same class of bug in seconds.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import ENV, REPO, keep_examples, owner_options, write_business

# Modules that may import an extra's packages (inside the function that starts the feature, or
# guarded where the module is imported).
OPTIONAL = {"daemon.intake.inbound_smtp": "inbound", "daemon.store.pgdb": "postgres"}


def installed_closure(extras: frozenset[str] = frozenset()) -> set[str]:
    """The installed distributions `pip install vouch[extras]` brings in (canonical names)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [("vouch", extras)]
    names: set[str] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not for this platform, or not installed here
        names.add(canonicalize_name(name))
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *wanted}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return names


def import_names(distributions: set[str]) -> set[str]:
    """Top-level import names provided by these distributions."""
    return {
        top
        for top, owners in metadata.packages_distributions().items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }


def not_installed_for_owners() -> set[str]:
    """Import names of every installed package an owner's `pip install vouch` lacks."""
    everything = import_names({canonicalize_name(d.name) for d in metadata.distributions()})
    runtime = import_names(installed_closure()) | {"daemon"} | sys.stdlib_module_names
    return everything - runtime


# Runs in a fresh interpreter: make the given packages unimportable, then either import every
# daemon module (reporting the ones that fail) or run the `vouch` command with the arguments.
BLOCKED_RUN = """
import importlib, importlib.abc, json, pkgutil, sys

# less what the interpreter's start-up imported (setuptools' .pth hook), which no import reaches
blocked = set(json.loads(sys.argv[1])) - {name.partition(".")[0] for name in sys.modules}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
if sys.argv[2] == "imports":
    import daemon

    failed = {}
    for module in pkgutil.walk_packages(daemon.__path__, "daemon.", onerror=print):
        if module.name != "daemon.__main__":  # that one runs the command
            try:
                importlib.import_module(module.name)
            except ImportError as exc:
                failed[module.name] = str(exc)
    print(json.dumps(failed))
else:
    from daemon.cli import main

    sys.exit(main(sys.argv[2:]))
"""


def blocked_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    blocked = sorted(not_installed_for_owners())
    assert "aiosmtpd" in blocked and "pytest" in blocked  # the test extra is what it blocks
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, json.dumps(blocked), *args],
        cwd=cwd,
        env={**os.environ, **ENV, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_every_daemon_module_imports_with_runtime_dependencies_only(tmp_path: Path) -> None:
    result = blocked_run("imports", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {}  # modules that failed to import


@pytest.mark.slow
def test_init_and_check_run_with_runtime_dependencies_only(tmp_path: Path) -> None:
    made = blocked_run("init", str(tmp_path / "acme"), *owner_options(), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    keep_examples(tmp_path / "acme")  # the demo's examples kept on purpose
    checked = blocked_run("check", "--config", str(tmp_path / "acme" / "config.toml"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "config.toml: ok (" in checked.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "run"])
def test_smtp_listener_without_the_inbound_extra_names_it(tmp_path: Path, command: str) -> None:
    """`[inbound] smtp = true` without aiosmtpd: one line naming the key and the extra, exit 2."""
    path = write_business(tmp_path, {"inbound": {"smtp": True, "port": 0}})
    result = blocked_run(command, "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "config.toml: inbound.smtp: the SMTP listener needs the inbound extra" in result.stderr
    assert "pip install 'vouch[inbound]', or set smtp = false" in result.stderr
    assert "listening" not in result.stderr  # refused before serving anything


def test_the_inbound_extra_brings_what_the_smtp_listener_imports() -> None:
    assert "aiosmtpd" in import_names(installed_closure(frozenset({"inbound"})))


def _imports(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file, including those inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_every_import_in_the_daemon_is_a_runtime_dependency() -> None:
    """Also the imports inside functions, which importing the modules does not run."""
    runtime = import_names(installed_closure()) | set(sys.stdlib_module_names) | {"daemon"}
    wrong = {}
    for path in sorted((REPO / "daemon").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        allowed = runtime
        if module in OPTIONAL:
            allowed = runtime | import_names(installed_closure(frozenset({OPTIONAL[module]})))
        if extra := sorted(_imports(path) - allowed):
            wrong[module] = extra
    assert wrong == {}
