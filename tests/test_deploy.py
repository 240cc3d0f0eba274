"""The deploy/ folder names real commands and options: every `vouch` command line in the
systemd units, the compose file and the image parses with the CLI's own parser, the extras the
image installs exist, and each stops the daemon the way it stops cleanly."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_runs_a_web_process_workers_and_postgresql() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    roles = {}
    for name in ("web", "worker"):
        service = services[name]
        args = _parser().parse_args(vouch_arguments(shlex.join(service["command"])))
        roles[name] = args.role
        assert service["stop_signal"] == "SIGTERM"
        assert service["env_file"] == ".env"  # secrets from the environment, never the file
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert roles == {"web": "web", "worker": "worker"}
    assert services["worker"]["deploy"]["replicas"] >= 2
    # the database's password is a variable too, refused when unset
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${VOUCH_STORE_PASSWORD:?"
    )


def test_the_image_installs_the_extras_its_roles_need_and_runs_vouch() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    extras = re.search(r"pip install [^\n]*'/tmp/vouch\[([a-z,]+)\]'", dockerfile)
    assert extras is not None
    offered = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(extras.group(1).split(",")) <= set(offered["optional-dependencies"])
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    assert cmd is not None
    args = _parser().parse_args(vouch_arguments(shlex.join(json.loads(cmd.group(1)))))
    assert args.role == "all"
    assert "USER vouch" in dockerfile  # not root
