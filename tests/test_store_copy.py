"""`vouch store copy`: a business moved SQLite -> PostgreSQL -> a new SQLite file keeps every
row (identical exports and checksums), a target that is not empty is refused and left alone,
a row changed in the copy is reported by table, and the daemon opens the copy as up to date."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from loop import running
from postgres import fresh_database

from daemon.cli import main
from daemon.config import Config
from daemon.owner import users
from daemon.store.sqlite import LATEST, SQLiteStore

from dashboard_data import field, seed
from helpers import ENV, write_business
from smtp_server import SmtpServer

EXPORTS = ("customers", "responses", "referrals")
OWNER = ("mike@acme.example", "Mike", "owner", "a long owner password 1")


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def business(loop_config: Config, loop_smtp: SmtpServer) -> Path:
    """A business with a few months of real data (tests/dashboard_data.py) and the mail it
    sent, its daemon stopped: the config file's path."""
    async with running(loop_config, loop_smtp) as ran:
        seeded = await seed(ran.services, ran.client)
        await users.add(ran.services.store, *OWNER, ran.clock.now())
        form = await ran.client.get("/admin/login")
        done = await ran.client.post(  # a session: its id is bytes
            "/admin/login",
            data={"nonce": field(form.text, "nonce"), "email": OWNER[0], "password": OWNER[3]},
        )
        assert done.status_code == 303, done.text
        await ran.run()
    path = str(loop_config.path)
    for argv in (  # a won referral's value and steps, a partner and the business given them
        ["referral", seeded.referrals[0], "won", "--value", "1234.5", "--note", "A kitchen"],
        ["referral", seeded.referrals[1], "contacted"],
        ["partner", "add", "Bright Plumbing", "--email", "jo@bright.example", "--trade",
         "plumbing", "--wants", "kitchens"],
    ):  # fmt: skip
        assert await asyncio.to_thread(main, [*argv, "--config", path]) == 0, argv
    return loop_config.path


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def vouch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command run as the owner runs it (in a thread: it runs its own event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sums(out: str, side: int) -> dict[str, tuple[str, str]]:
    """The printed table's (rows, checksum) per table, of the source (0) or the copy (1)."""
    found = {}
    for line in out.splitlines()[1:]:
        cells = line.split()
        if len(cells) >= 5 and not cells[0].endswith(":"):
            found[cells[0]] = (cells[1 + 2 * side], cells[2 + 2 * side])
    return found


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"schema_migrations"}  # each store's own record


def business_on(root: Path, store: dict[str, Any]) -> str:
    return str(write_business(root, {"store": store}))


async def test_a_business_goes_to_postgresql_and_back_unchanged(
    business: Path, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_file = business.parent / "var" / "vouch.sqlite3"
    code, there, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url
    )
    assert code == 0, err
    every = tables_of(sqlite_file)
    assert set(sums(there, 0)) == every  # no table skipped, a new migration's too
    assert all(f"copied {table}: " in err for table in every)  # a progress line each
    full = {t for t, (rows, _) in sums(there, 0).items() if rows != "0"}
    assert {
        *("customers", "events", "responses", "referrals", "referral_steps", "outbox"),
        *("advocates", "partners", "users", "admin_sessions", "complaints", "invitations"),
    } <= full
    assert sums(there, 0) == sums(there, 1)

    on_postgres = business_on(tmp_path / "pg", {"url": postgres_url})
    back_file = tmp_path / "back.sqlite3"
    code, back, err = await vouch(
        capsys, "store", "copy", "--config", on_postgres, "--to", str(back_file)
    )
    assert code == 0, err
    assert sums(back, 1) == sums(there, 0)  # the same checksums on the first store and the last
    on_back = business_on(tmp_path / "back", {"path": str(back_file)})

    for what in EXPORTS:
        exports = [
            await vouch(capsys, "export", what, "--config", config)
            for config in (str(business), on_postgres, on_back)
        ]
        assert [code for code, _, _ in exports] == [0, 0, 0]
        assert exports[0][1] == exports[1][1] == exports[2][1]
        assert exports[0][1].count("\n") > 2, what

    for config in (on_postgres, on_back):
        code, out, err = await vouch(capsys, "check", "--config", config)
        assert code == 0, err
        assert f"up to date (schema {LATEST})" in out

    # the copy's identities go on past the copied ids: the daemon can add rows to it
    store = await SQLiteStore.open(back_file)
    await store.close()
    connection = await asyncpg.connect(postgres_url)
    try:
        top = await connection.fetchval("SELECT max(id) FROM customers")
        added = await connection.fetchval(
            "INSERT INTO customers (email, created_at, updated_at) "
            "VALUES ('new@example.com', now(), now()) RETURNING id"
        )
        assert added == top + 1
    finally:
        await connection.close()


async def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    business: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url
    )
    assert code == 0, err
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url
    )
    assert code == 2
    assert "is not empty (rows in " in err and "customers" in err
    code, again, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url, "--verify-only"
    )
    assert code == 0, err
    assert sums(again, 1) == sums(first, 1)  # nothing written twice


async def test_a_row_changed_in_the_copy_is_named(
    business: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url
    )
    assert code == 0, err
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(
            "UPDATE responses SET comment = 'changed' WHERE id = (SELECT min(id) FROM responses)"
        )
    finally:
        await connection.close()
    code, out, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", postgres_url, "--verify-only"
    )
    assert code == 1
    assert "the copy differs from the store in: responses" in err
    assert [line.split()[0] for line in out.splitlines() if "MISMATCH" in line] == ["responses"]


async def test_sqlite_to_sqlite_and_the_refusals_without_a_server(
    business: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The half that needs no PostgreSQL: a copy to a new SQLite file, verified; the store
    itself, a target with rows and a source behind this Vouch refused (exit 2), saying why."""
    target = tmp_path / "copy.sqlite3"
    code, out, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", str(target)
    )
    assert code == 0, err
    assert set(sums(out, 0)) == tables_of(target)
    assert sums(out, 0) == sums(out, 1)
    assert "verified: " in out

    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", str(target)
    )
    assert (code, "is not empty" in err) == (2, True)

    source = business.parent / "var" / "vouch.sqlite3"
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", str(source)
    )
    assert (code, "the store itself" in err) == (2, True)

    with sqlite3.connect(target) as db:
        db.execute("DELETE FROM schema_migrations WHERE version = ?", (LATEST,))
    behind = business_on(tmp_path / "behind", {"path": str(target)})
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", behind, "--to", str(tmp_path / "x.db")
    )
    assert code == 2
    assert f"at schema {LATEST - 1}" in err and "vouch run" in err
    assert not (tmp_path / "x.db").exists()


async def test_a_changed_row_in_a_sqlite_copy_is_named(
    business: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "copy.sqlite3"
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", str(target)
    )
    assert code == 0, err
    with sqlite3.connect(target) as db:
        db.execute("UPDATE customers SET name = 'Someone Else' WHERE id = 1")
    code, _, err = await vouch(
        capsys, "store", "copy", "--config", str(business), "--to", str(target), "--verify-only"
    )
    assert code == 1
    assert "the copy differs from the store in: customers" in err
