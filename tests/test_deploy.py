"""The deploy/ folder names real commands and options: every `vouch` command line in the
systemd units (and the compose file, when there is one) parses with the CLI's own parser, and
the units stop the daemon the way it stops cleanly."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from daemon.cli import _parser

from helpers import REPO

UNITS = sorted((REPO / "deploy" / "systemd").glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(path)
    return parser


def vouch_arguments(command: str) -> list[str]:
    """A command line's arguments to `vouch`, checked to be the installed entry point."""
    words = shlex.split(command.replace("%i", "1"))
    assert Path(words[0]).name == "vouch", command
    return words[1:]


def test_there_are_units_for_both_roles() -> None:
    assert [p.name for p in UNITS] == ["vouch-web.service", "vouch-worker@.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_a_real_command_and_stops_it_cleanly(path: Path) -> None:
    service = unit(path)["Service"]
    args = _parser().parse_args(vouch_arguments(service["ExecStart"]))  # exits 2 if unknown
    assert args.handler.__name__ == "_run"
    assert args.role == path.name.split("-")[1].split("@")[0].removesuffix(".service")
    if args.role == "worker":
        assert args.instance == "worker-1"  # %i: a name kept across restarts
    assert service["KillSignal"] == "SIGTERM"  # the daemon finishes in-flight emails on it
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # SIGHUP: the daemon reloads
    assert service["EnvironmentFile"].startswith("/etc/vouch/")  # secrets stay out of the unit
    assert "WantedBy" in unit(path)["Install"]
