"""Helpers shared by the tests: the demo business written into a temp dir, tokens, paths."""

from __future__ import annotations

import asyncio
import copy
import shutil
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit

from daemon.store.pgdb import PGDB, marks

REPO = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
ENV = {"VOUCH_API_TOKEN": TOKEN, "VOUCH_SECRET_KEY": "test-secret-key-0123456789"}

BASE_CONFIG: dict[str, Any] = {
    "business": {
        "name": "Harbor Lane Renovations",
        "demo": True,  # the demo business: its examples may stay
        "email": "hello@harborlane.example",
        "reply_to": "team@harborlane.example",
        "owner_email": "owner@harborlane.example",
        "timezone": "Europe/London",
        "public_url": "http://vouch.test",
    },
    "server": {"host": "127.0.0.1", "port": 0},
    "store": {"path": "var/vouch.sqlite3"},
    "secrets": {"api_token_env": "VOUCH_API_TOKEN", "signing_key_env": "VOUCH_SECRET_KEY"},
    "email": {"transport": "maildir", "maildir": {"path": "var/maildir"}},
    "sender": {"max_attempts": 5, "backoff_base_seconds": 60, "backoff_max_seconds": 3600},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_business(root: Path, changes: dict[str, Any] | None = None) -> Path:
    """A business folder as an owner would have it: config.toml and the repo's templates."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "templates").exists():
        shutil.copytree(REPO / "templates", root / "templates")
    for folder in ("surveys", "materials"):
        if (REPO / folder).exists() and not (root / folder).exists():
            shutil.copytree(REPO / folder, root / folder)
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(merge(BASE_CONFIG, changes or {})))
    return path


def query(store: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows the daemon wrote, read with a plain connection of the test's own (never through the
    store's internals): to the SQLite store's file (WAL: every commit is seen) or a SQLite
    file's path, or to the PostgreSQL store's database. `?` parameters, as in the store's SQL;
    a datetime parameter is a time on both."""
    if isinstance(store, PGDB):
        return _on_postgres(store.url, sql, params)
    path = store if isinstance(store, Path) else store.path
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return [tuple(r) for r in db.execute(sql, _as_sqlite(params)).fetchall()]


def plant(store: Any, sql: str, params: Sequence[Any] = ()) -> None:
    """Write what the daemon itself never would (a poisoned row, a state from an older
    version) into the store, committed, with a plain connection of the test's."""
    if isinstance(store, PGDB):
        _on_postgres(store.url, sql, params)
        return
    with closing(sqlite3.connect(store.path, timeout=10, isolation_level=None)) as db:
        db.execute(sql, _as_sqlite(params))


def _as_sqlite(params: Sequence[Any]) -> list[Any]:
    """A time as SQLite's store keeps it: epoch milliseconds (PostgreSQL takes a datetime)."""
    return [int(p.timestamp() * 1000) if isinstance(p, datetime) else p for p in params]


def tables(store: Any) -> list[str]:
    """The store's tables, by name (`query`'s stores)."""
    if isinstance(store, PGDB):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return sorted(r[0] for r in query(store, sql))


def columns(store: Any, table: str) -> list[str]:
    """A table's columns, in order (`query`'s stores)."""
    if isinstance(store, PGDB):
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position"
        )
    else:
        sql = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
    return [r[0] for r in query(store, sql, (table,))]


def stored_time(value: Any) -> datetime:
    """A timestamp as `query` reads it: SQLite keeps epoch milliseconds, PostgreSQL a
    timestamptz."""
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value / 1000, UTC)


def _on_postgres(url: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """`sql` on a connection of its own, run to the end in a thread of its own: the callers
    are plain functions inside the test's event loop, which the store's pool keeps to itself."""
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await connection.fetch(marks(sql), *params)]
        finally:
            await connection.close()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result()


OWNER = {
    "name": "Acme Decks",
    "email": "hello@acme.example",
    "owner_email": "mike@acme.example",
    "timezone": "America/Chicago",
    "public_url": "https://vouch.acme.example",
    "currency": "USD",
    "locale": "en-US",
}


def owner_options(values: dict[str, str] | None = None) -> list[str]:
    """`vouch init`'s options for a Chicago deck builder (OWNER), as an owner types them."""
    given = OWNER | (values or {})
    return [part for key, value in given.items() for part in (f"--{key.replace('_', '-')}", value)]


def keep_examples(root: Path) -> None:
    """What an owner does who keeps the demo's examples on purpose: remove each `example = true`
    from a folder made by `vouch init` (config.toml and the education page)."""
    config = root / "config.toml"
    document = tomlkit.parse(config.read_text())
    referrals = document["referrals"]
    for table in (
        referrals.get("incentive"),
        referrals.get("reward"),
        *referrals.get("materials", []),
        *referrals.get("links", []),
        *referrals.get("offers", []),
        *document.get("reviews", {}).get("sites", []),
    ):
        if table is not None:
            table.pop("example", None)
    config.write_text(tomlkit.dumps(document))
    education = root / "templates" / "pages" / "referral_education.toml"
    page = tomlkit.parse(education.read_text())
    page.pop("example", None)
    education.write_text(tomlkit.dumps(page))
