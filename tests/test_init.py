"""`vouch init DIR`: a new business folder from the files shipped inside the package."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.shipped import NAMES

from helpers import ENV, OWNER, REPO, keep_examples, owner_options


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for name in NAMES
        for p in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
        if p.is_file()
    }


def shipped_comments(text: str) -> list[str]:
    """Every comment in a TOML file, in order (a line's own or after its value)."""
    return [
        line[line.index("#") :] for line in text.splitlines() if "#" in line and '"#' not in line
    ]


def test_init_with_options_writes_the_owners_business(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "acme"
    assert main(["init", str(target), *owner_options()]) == 0
    out = capsys.readouterr().out
    assert f"created {target}: config.toml, templates/ (" in out
    assert f"vouch check --config {target / 'config.toml'}" in out
    assert "the dashboard at https://vouch.acme.example/admin" in out
    assert "export VOUCH_DASHBOARD_PASSWORD=" in out
    written = (target / "config.toml").read_text()
    business = tomllib.loads(written)["business"]
    assert business == OWNER | {"demo": False}  # the demo's reply_to and about taken out
    shipped = (REPO / "config.toml").read_text()
    assert shipped_comments(written) == shipped_comments(shipped)  # every comment kept
    assert tomllib.loads(written) | {"business": {}} == tomllib.loads(shipped) | {"business": {}}
    theirs, ours = files(target), files(REPO)
    assert theirs.pop("config.toml") != ours.pop("config.toml")
    assert theirs == ours  # the other defaults, byte for byte
    assert (target / "templates" / "pages" / "referral_education.toml").is_file()
    # check accepts the owner's values: what it refuses is only the demo's examples
    assert main(["check", "--config", str(target / "config.toml")]) == 2
    problems = capsys.readouterr().err.splitlines()[1:]
    assert problems and all("an example from the demo business" in p for p in problems)
    keep_examples(target)
    assert main(["check", "--config", str(target / "config.toml")]) == 0
    assert "config.toml: ok (2 surveys" in capsys.readouterr().out


class Terminal(io.StringIO):
    """Standard input as a terminal the owner types the lines of `typed` into."""

    def isatty(self) -> bool:
        return True


def test_init_asks_on_a_terminal_until_each_answer_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = [
        "",  # name: empty
        "Acme Decks",
        "mike at acme",  # email: not an address
        "hello@acme.example",
        "mike@acme.example",
        "Chicago",  # not an IANA zone
        "America/Chicago",
        "vouch.acme.example",  # no scheme
        "https://vouch.acme.example",
        "dollars",  # not ISO 4217
        "USD",
        "en US",  # not a locale tag
        "en-US",
    ]
    monkeypatch.setattr(sys, "stdin", Terminal("\n".join(typed) + "\n"))
    target = tmp_path / "acme"
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.count("; try again") == 6
    assert "Your time zone (IANA), e.g. America/Chicago or Europe/London." in out
    assert "timezone: " in out
    assert 'not valid (unknown time zone: must be an IANA time zone such as "Europe/London")' in out
    assert "not valid (not an ISO 4217 currency code in use" in out
    assert tomllib.loads((target / "config.toml").read_text())["business"] == OWNER | {
        "demo": False
    }


def test_init_asks_only_for_what_was_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    given = owner_options()
    at = given.index("--timezone")
    del given[at : at + 2]
    monkeypatch.setattr(sys, "stdin", Terminal("Europe/Dublin\n"))
    assert main(["init", str(tmp_path / "acme"), *given]) == 0
    out = capsys.readouterr().out
    assert "timezone: " in out and "name: " not in out
    written = tomllib.loads((tmp_path / "acme" / "config.toml").read_text())
    assert written["business"]["timezone"] == "Europe/Dublin"


def test_init_stopped_at_a_prompt_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("Acme Decks\n"))  # then end of input (Ctrl-D)
    assert main(["init", str(tmp_path / "acme")]) == 1
    assert "stopped: nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "acme").exists()


def test_init_without_a_terminal_names_each_missing_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Acme\n"))  # piped: not a terminal
    given = owner_options()
    for option in ("--timezone", "--currency"):
        at = given.index(option)
        del given[at : at + 2]
    assert main(["init", str(tmp_path / "acme"), *given]) == 2
    err = capsys.readouterr().err
    assert "missing --timezone, --currency (no terminal to ask on)" in err
    assert not (tmp_path / "acme").exists()


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--email", "hello", "must have an @-sign"),
        ("--owner-email", "mike@", "something after the @-sign"),
        ("--timezone", "Mars/Olympus", "unknown time zone"),
        ("--public-url", "vouch.acme.example", "not an http(s) URL"),
        ("--currency", "usd", "not an ISO 4217 currency code"),
        ("--locale", "english!", "should match pattern"),
        ("--name", "", "at least 1 character"),
    ],
)
def test_init_refuses_an_invalid_option_as_check_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, says: str
) -> None:
    given = owner_options()
    given[given.index(option) + 1] = value
    with pytest.raises(SystemExit) as exited:
        main(["init", str(tmp_path / "acme"), *given])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and says.lower() in err.lower()
    assert not (tmp_path / "acme").exists()


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.toml").write_text("# the owner's own\n")
    assert main(["init", str(tmp_path / "mine")]) == 2  # refused before asking anything
    assert "exists and is not empty; vouch init never overwrites" in capsys.readouterr().err
    assert (tmp_path / "mine" / "config.toml").read_text() == "# the owner's own\n"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["config.toml"]
    (tmp_path / "empty").mkdir()
    assert main(["init", str(tmp_path / "empty"), *owner_options()]) == 0  # an empty folder is fine


@pytest.mark.slow
def test_a_built_wheel_carries_the_defaults(tmp_path: Path) -> None:
    """Build the wheel as a packager would, then run `vouch init` and `vouch check` from it
    (not from this checkout) in a fresh folder."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "var", "build", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("vouch-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert "daemon/defaults/templates/pages/referral_education.toml" in archive.namelist()
        archive.extractall(site)
    target = tmp_path / "fresh"

    def vouch(*args: str) -> subprocess.CompletedProcess[str]:
        program = (
            "import sys; sys.path.insert(0, sys.argv[1]); import daemon; "
            "assert daemon.__file__.startswith(sys.argv[1]), daemon.__file__; "
            "from daemon.cli import main; sys.exit(main(sys.argv[2:]))"
        )
        return subprocess.run(
            [sys.executable, "-c", program, str(site), *args],
            cwd=tmp_path,
            env={**os.environ, **ENV},
            capture_output=True,
            text=True,
        )

    made = vouch("init", str(target), *owner_options())
    assert made.returncode == 0, made.stderr
    theirs, ours = files(target), files(REPO)
    assert tomllib.loads(theirs.pop("config.toml").decode())["business"]["name"] == "Acme Decks"
    del ours["config.toml"]
    assert theirs == ours
    checked = vouch("check", "--config", str(target / "config.toml"))
    assert checked.returncode == 2  # the wheel's defaults carry the demo's example markers
    for where in (
        "config.toml: referrals.materials[0] (brochure.pdf): ",
        "config.toml: referrals.materials[1] (harbor-lane.vcf): ",
        "config.toml: referrals.links[0] (https://harborlane.example/projects): ",
        "config.toml: referrals.incentive: ",
        "config.toml: referrals.reward: ",
        "templates/pages/referral_education.toml: example: ",
    ):
        assert f"{where}an example from the demo business" in checked.stderr
    keep_examples(target)
    checked = vouch("check", "--config", str(target / "config.toml"))
    assert checked.returncode == 0, checked.stderr
    assert "ok (2 surveys" in checked.stdout
