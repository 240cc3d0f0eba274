"""`vouch init DIR`: a new business folder from the files shipped inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.owner.starter import NAMES

from helpers import ENV, REPO


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


def test_init_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "acme"
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"created {target}: config.toml, templates/ (" in out
    assert f"vouch check --config {target / 'config.toml'}" in out
    assert files(target) == files(REPO)  # the shipped defaults, byte for byte
    assert (target / "templates" / "pages" / "referral_education.toml").is_file()
    assert main(["check", "--config", str(target / "config.toml")]) == 0
    assert "config.toml: ok (2 surveys" in capsys.readouterr().out


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.toml").write_text("# the owner's own\n")
    assert main(["init", str(tmp_path / "mine")]) == 2
    assert "exists and is not empty; vouch init never overwrites" in capsys.readouterr().err
    assert (tmp_path / "mine" / "config.toml").read_text() == "# the owner's own\n"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["config.toml"]
    (tmp_path / "empty").mkdir()
    assert main(["init", str(tmp_path / "empty")]) == 0  # an empty folder is fine


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

    made = vouch("init", str(target))
    assert made.returncode == 0, made.stderr
    assert files(target) == files(REPO)
    checked = vouch("check", "--config", str(target / "config.toml"))
    assert checked.returncode == 0, checked.stderr
    assert "ok (2 surveys" in checked.stdout
