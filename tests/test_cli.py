"""The `vouch` commands an owner types: check, preview, send-test, event."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config import load_config
from daemon.mail.render import KINDS
from daemon.store import SQLiteStore
from daemon.store.sqlite import LATEST, stored_version

from helpers import ENV, REPO, write_business
from smtp_server import ThreadedSmtpServer


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def test_check_passes_on_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_business(tmp_path)
    assert main(["check", "--config", str(path)]) == 0
    assert "ok" in capsys.readouterr().out


def test_check_says_whether_the_store_is_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An old store is migrated by `vouch run`, never by `vouch check`; one newer than this
    Vouch is a problem (run would refuse to open it)."""
    path = write_business(tmp_path)
    store = load_config(path, ENV).store_path
    assert main(["check", "--config", str(path)]) == 0
    assert f"store {store}: not created yet (vouch run creates it, schema {LATEST})" in (
        capsys.readouterr().out
    )
    asyncio.run(_open_and_close(store))
    with sqlite3.connect(store) as db:  # as a store an older Vouch left
        db.execute("DELETE FROM schema_migrations WHERE version > 19")
    assert main(["check", "--config", str(path)]) == 0
    assert f"store {store}: behind, at schema 19; vouch run brings it to {LATEST}" in (
        capsys.readouterr().out
    )
    assert stored_version(store) == 19  # check changed nothing
    with sqlite3.connect(store) as db:
        db.execute("INSERT INTO schema_migrations VALUES (999, 'from the future')")
    assert main(["check", "--config", str(path)]) == 2
    assert f"config.toml: store.path: {store} is at schema 999, newer than this Vouch" in (
        capsys.readouterr().err
    )


async def _open_and_close(path: Path) -> None:
    await (await SQLiteStore.open(path)).close()


def test_check_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOUCH_API_TOKEN")
    path = write_business(
        tmp_path, {"server": {"port": "abc"}, "business": {"timezone": "Nowhere"}}
    )
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert (
        'config.toml: server.port: must be an integer 0-65535 (0: any free port), got "abc"' in err
    )
    assert "config.toml: business.timezone: must be an IANA time zone" in err


def test_check_refuses_choices_the_reward_kind_would_not_honour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A voucher or a donation offered, while the reward kind issues a code to everyone: an
    advocate who chose the donation would be sent a voucher code."""
    choices = ["a £50 voucher", "£50 to the Harbour Food Bank"]
    path = write_business(
        tmp_path,
        {"referrals": {"incentive": {"choices": choices}, "reward": {"kind": "generated"}}},
    )
    assert main(["check", "--config", str(path)]) == 2
    assert (
        'config.toml: referrals.reward.kind: "generated" issues a code whatever the advocate '
        "chooses, but a choice is offered (a £50 voucher, £50 to the Harbour Food Bank)"
    ) in capsys.readouterr().err
    agreeing = {"kind": "choice", "voucher_choices": ["a £50 voucher"]}
    write_business(tmp_path, {"referrals": {"incentive": {"choices": choices}, "reward": agreeing}})
    assert main(["check", "--config", str(path)]) == 0


def test_check_names_the_template_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_business(tmp_path)
    template = tmp_path / "templates" / "email" / "test.txt"
    lines = template.read_text().splitlines()
    line = lines.index("Your email settings work.")
    lines[line] = (
        "Your email settings work, {{ customer_name }}."  # the test email has no such name
    )
    template.write_text("\n".join(lines) + "\n")
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"templates/email/test.txt: line {line + 1}" in err
    assert "customer_name" in err


def test_preview_prints_and_writes_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_business(tmp_path)
    out = tmp_path / "preview.html"
    assert main(["preview", "test", "--html", str(out), "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "Subject: Test email from Harbor Lane Renovations" in printed
    assert "<html" in out.read_text().lower() and "style=" in out.read_text()
    assert main(["preview", "nope", "--config", str(path)]) == 2
    assert "unknown email kind 'nope'" in capsys.readouterr().err


def test_send_test_to_the_maildir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_business(tmp_path)
    assert main(["send-test", "sam@example.com", "--config", str(path)]) == 0
    assert "sent a test email to sam@example.com via maildir" in capsys.readouterr().out
    (written,) = (tmp_path / "var" / "maildir" / "new").glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert message["To"] == "sam@example.com"


def test_send_test_over_smtp_reports_a_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedSmtpServer() as server:
        smtp = {"host": server.host, "port": server.port, "security": "none"}
        path = write_business(tmp_path, {"email": {"transport": "smtp", "smtp": smtp}})
        assert main(["send-test", "sam@example.com", "--config", str(path)]) == 0
        server.handler.fail_rcpt("550 5.1.1 unknown user", times=None)
        assert main(["send-test", "nobody@example.com", "--config", str(path)]) == 1
        assert len(server.handler.messages) == 1
    captured = capsys.readouterr()
    assert "via smtp" in captured.out
    assert "not sent: failed: recipient refused: 550 5.1.1 unknown user" in captured.err


def test_event_records_like_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_business(tmp_path)
    args = [
        "event",
        "project.completed",
        "--email",
        "ann@example.com",
        "--name",
        "Ann",
        "--id",
        "job-7",
        "--occurred-at",
        "2026-03-02T10:00:00+00:00",
        "--data",
        "job=7",
        "--data",
        'crew="north"',
        "--config",
        str(path),
    ]
    assert main(args) == 0
    receipt = json.loads(capsys.readouterr().out)
    assert receipt == {"id": "job-7", "type": "project.completed", "status": "recorded"}
    assert main(args) == 0  # the same id again: answered as before, recorded once
    assert json.loads(capsys.readouterr().out) == receipt
    bad = ["event", "project.completed", "--email", "not-an-address", "--config", str(path)]
    assert main(bad) == 2
    assert "customer.email" in capsys.readouterr().err


def vouch(args: list[str], stdout: int, stdin: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "daemon", *args],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
    )


def test_preview_into_a_pipe_whose_reader_has_gone_stops_quietly(tmp_path: Path) -> None:
    """`vouch preview survey | head`, with head gone before the first line: no traceback."""
    path = write_business(tmp_path)
    read, write = os.pipe()
    os.close(read)  # nobody reads: every write to the pipe fails (EPIPE)
    try:
        preview = vouch(["preview", "survey", "--config", str(path)], write)
    finally:
        os.close(write)
    _, err = preview.communicate(timeout=60)
    assert (preview.returncode, err.decode()) == (1, "")


def test_export_into_head_stops_quietly_when_head_has_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vouch export customers | head -n 1` through a real `head`: the export is far bigger than
    the pipe holds, so it is still writing when head exits."""
    path = write_business(tmp_path)
    rows = tmp_path / "customers.csv"
    rows.write_text(
        "email,name\n" + "".join(f"c{n}@example.com,Customer {n}\n" for n in range(3000))
    )
    assert main(["import", "customers", str(rows), "--config", str(path)]) == 0
    capsys.readouterr()
    export = vouch(["export", "customers", "--config", str(path)], subprocess.PIPE)
    assert export.stdout is not None
    head = subprocess.Popen(["head", "-n", "1"], stdin=export.stdout, stdout=subprocess.PIPE)
    export.stdout.close()  # head alone reads the pipe now
    first, _ = head.communicate(timeout=60)
    _, err = export.communicate(timeout=60)
    assert first.decode().startswith("email,")
    assert (export.returncode, err.decode()) == (1, "")


def test_the_readme_the_templates_check_and_preview_agree_on_the_email_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every template pair in templates/email/ (not a layout, a partial or a translation) is a
    kind render knows and the reverse; the README counts and lists the same kinds; `vouch
    check` renders that many and `vouch preview` shows each."""
    folder = REPO / "templates" / "email"

    def stems(suffix: str) -> set[str]:
        return {
            p.stem
            for p in folder.glob(f"*.{suffix}")
            if "." not in p.stem and not p.stem.startswith("_") and p.stem != "base"
        }

    assert stems("txt") == stems("html") == set(KINDS)
    readme = (REPO / "README.md").read_text()
    assert re.findall(r"\((\d+) kinds", readme) == [str(len(KINDS))]
    listed = re.search(r"per email kind \((\d+): ([^;]+);", readme)
    assert listed is not None and listed.group(1) == str(len(KINDS))
    assert re.findall(r"`(\w+)`", listed.group(2)) == list(KINDS)
    path = write_business(tmp_path)
    assert main(["check", "--config", str(path)]) == 0
    assert f"; {len(KINDS)} email kinds rendered" in capsys.readouterr().out
    for kind in sorted(stems("txt")):
        assert main(["preview", kind, "--config", str(path)]) == 0, kind
        assert capsys.readouterr().out.startswith("Subject: "), kind
