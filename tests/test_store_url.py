"""Choosing the PostgreSQL store in config.toml (`[store] url`, the password from the variable
`store.password_env` names): each mistake named by key, `vouch check` saying whether the
database is behind without migrating it, the commands and the daemon's own code path opening
it, and the SQLite-only commands refusing it with the tool to use instead."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from postgres import fresh_database_sync

from daemon.cli import main
from daemon.config import load_config
from daemon.errors import ConfigError
from daemon.run.services import open_store
from daemon.store.pg_schema import MIGRATIONS
from daemon.store.postgres import PostgresStore

from helpers import ENV, write_business

LATEST = MIGRATIONS[-1][0]


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("store", "key", "message"),
    [
        ({"url": "postgresql://vouch:hunter2@db/vouch"}, "store.url", "holds a password"),
        ({"url": "mysql://vouch@db/vouch"}, "store.url", "postgresql://"),
        ({"url": "postgresql:///vouch"}, "store.url", "postgresql://"),
        ({"url": "postgresql://vouch@db/v", "password_env": "lower"}, "store.password_env", ""),
        (
            {"url": "postgresql://vouch@db/v", "password_env": "VOUCH_NOT_SET_HERE"},
            "store.password_env",
            "environment variable VOUCH_NOT_SET_HERE is not set",
        ),
    ],
)
def test_each_mistake_is_named_by_key(
    tmp_path: Path, store: dict[str, Any], key: str, message: str
) -> None:
    path = write_business(tmp_path, {"store": store})
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV, need_secrets=True)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"config.toml: {key}: ") and message in p for p in found), found


def test_check_reads_the_database_and_never_migrates_it(
    tmp_path: Path, postgres_url_sync: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_business(tmp_path, {"store": {"url": postgres_url_sync}})
    assert main(["check", "--config", str(path)]) == 0
    said = f"store {postgres_url_sync}: not created yet (vouch run creates it, schema {LATEST})"
    assert said in capsys.readouterr().out
    assert asyncio.run(_sql(postgres_url_sync, "SELECT to_regclass('schema_migrations')")) is None

    asyncio.run(_open_and_close(postgres_url_sync))
    assert main(["check", "--config", str(path)]) == 0
    assert f"up to date (schema {LATEST})" in capsys.readouterr().out
    asyncio.run(_sql(postgres_url_sync, "DELETE FROM schema_migrations WHERE version > 19"))
    assert main(["check", "--config", str(path)]) == 0
    assert f"behind, at schema 19; vouch run brings it to {LATEST}" in capsys.readouterr().out
    asyncio.run(_sql(postgres_url_sync, "INSERT INTO schema_migrations VALUES (999, 'future')"))
    assert main(["check", "--config", str(path)]) == 2
    assert "store.url: " in capsys.readouterr().err


def test_check_says_when_the_server_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_business(tmp_path, {"store": {"url": "postgresql://vouch@127.0.0.1:9/vouch"}})
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "config.toml: store.url: cannot read postgresql://vouch@127.0.0.1:9/vouch: " in err


def test_commands_use_the_database_the_config_names(
    tmp_path: Path, postgres_url_sync: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_business(tmp_path, {"store": {"url": postgres_url_sync}})
    config = ["--config", str(path)]
    assert main(["event", "purchase.completed", "--email", "ann@example.com", *config]) == 0
    assert main(["export-person", "ann@example.com", *config]) == 0
    assert '"purchase.completed"' in capsys.readouterr().out
    assert not (tmp_path / "var" / "vouch.sqlite3").exists()  # nothing went to a SQLite file
    assert asyncio.run(_sql(postgres_url_sync, "SELECT count(*) FROM events")) == 1

    async def opened_kind() -> str:
        store = await open_store(load_config(path, ENV))
        try:
            return type(store).__name__
        finally:
            await store.close()

    assert asyncio.run(opened_kind()) == "PostgresStore"


def test_backup_and_restore_refuse_a_postgresql_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_business(tmp_path, {"store": {"url": "postgresql://vouch@db/vouch"}})
    assert main(["backup", str(tmp_path / "copy.sqlite3"), "--config", str(path)]) == 2
    assert "use PostgreSQL's own pg_dump and pg_restore" in capsys.readouterr().err


async def _open_and_close(url: str) -> None:
    await (await PostgresStore.open(url)).close()


async def _sql(url: str, sql: str) -> Any:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url_sync() -> Iterator[str]:
    with fresh_database_sync() as url:
        yield url
