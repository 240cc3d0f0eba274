"""Backups of the SQLite store with SQLite's online backup API, and restores.

A backup runs beside the daemon: its own connection (never writing) copies every page inside one
read transaction, so the copy is the store as it was at one instant while the daemon keeps
writing (WAL mode lets writers go on). The copy is written next to its destination, checked
with `PRAGMA integrity_check`, switched to a single-file journal mode and only then renamed into
place, so a half-made backup never looks like a backup.

A restore needs the daemon stopped: it takes SQLite's exclusive lock on the store (which fails
while any other connection has it open) and keeps the old store as `<store>.before-restore`.
A damaged store (SQLite finds it corrupt, or not a database at all) can be neither locked nor
copied page by page: its files are moved aside whole under that name instead.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from daemon.errors import StoreDamaged, VouchError
from daemon.store.db import damaged
from daemon.store.migrations import MIGRATIONS

BUSY_MS = 500  # how long a restore waits for the store's lock before saying it is in use


@dataclass(frozen=True)
class Copied:
    path: Path
    pages: int
    schema_version: int


def _check(db: sqlite3.Connection, label: str) -> int:
    """The schema version, after an integrity check; VouchError if it is not a Vouch store."""
    problems = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise VouchError(f"{label}: failed the integrity check: {'; '.join(problems[:5])}")
    try:
        row = db.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except sqlite3.DatabaseError:
        raise VouchError(f"{label}: not a Vouch store (no schema_migrations table)") from None
    version = int(row[0] or 0)
    known = max(v for v, _, _ in MIGRATIONS)
    if version > known:
        raise VouchError(f"{label}: schema version {version} is newer than this Vouch ({known})")
    return version


def _backup(store: Path, dest: Path) -> Copied:
    if not store.exists():
        raise VouchError(f"no store at {store}")
    if dest.exists() and dest.is_dir():
        raise VouchError(f"{dest} is a directory; give a file name for the backup")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(store, timeout=10)
    try:
        source.execute("PRAGMA query_only = ON")  # this connection never writes the store
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # every page in one step: one read transaction, one instant
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            version = _check(target, str(dest))
            pages = int(target.execute("PRAGMA page_count").fetchone()[0])
        finally:
            target.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        if damaged(exc):
            raise StoreDamaged(store, str(exc)) from None
        raise VouchError(f"backup of {store} failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, dest)
    return Copied(dest, pages, version)


async def backup(store: Path, dest: Path) -> Copied:
    """Copy the live store to dest (replacing dest), consistent at one instant."""
    return await asyncio.to_thread(_backup, store, dest)


def _restore(source: Path, store: Path) -> Copied:
    if not source.is_file():
        raise VouchError(f"no backup at {source}")
    if source.resolve() == store.resolve():
        raise VouchError(f"{source} is the store itself")
    try:
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise VouchError(f"{source}: cannot open: {exc}") from None
    try:
        try:
            version = _check(backup_db, str(source))
        except sqlite3.DatabaseError as exc:
            raise VouchError(f"{source}: not an SQLite store ({exc})") from None
        existed = store.exists()
        store.parent.mkdir(parents=True, exist_ok=True)
        kept = store.with_name(store.name + ".before-restore")
        try:
            live = _locked(store)
        except sqlite3.DatabaseError as exc:
            if not damaged(exc):
                raise
            _set_aside(store, kept)
            existed = False
            live = _locked(store)
        try:
            if existed:
                _remove(kept)
                old = sqlite3.connect(kept)
                try:
                    live.backup(old)  # the old store, whole, in one file
                    old.execute("PRAGMA journal_mode = DELETE")
                finally:
                    old.close()
            backup_db.backup(live)
            live.execute("PRAGMA journal_mode = WAL")
            pages = int(live.execute("PRAGMA page_count").fetchone()[0])
        finally:
            live.close()
    finally:
        backup_db.close()
    return Copied(store, pages, version)


def _locked(store: Path) -> sqlite3.Connection:
    """A connection holding the store's exclusive lock. Exclusive locking mode holds the lock
    until close; in WAL mode it cannot be had while any other connection (the daemon, a
    command) has the store open."""
    live = sqlite3.connect(store, timeout=BUSY_MS / 1000, isolation_level=None)
    try:
        live.execute("PRAGMA locking_mode = EXCLUSIVE")
        live.execute("BEGIN EXCLUSIVE")
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()
        live.execute("COMMIT")
    except sqlite3.OperationalError:
        live.close()
        raise VouchError(
            f"the store {store} is in use (is `vouch run` running?): stop the daemon, then restore"
        ) from None
    except BaseException:
        live.close()
        raise
    return live


def _files(store: Path) -> list[Path]:
    """A store's file, its write-ahead log and its shared-memory index."""
    return [store.with_name(store.name + suffix) for suffix in ("", "-wal", "-shm")]


def _remove(store: Path) -> None:
    for path in _files(store):
        path.unlink(missing_ok=True)


def _set_aside(store: Path, kept: Path) -> None:
    """Move a damaged store's files, as they are, to `kept`'s names."""
    _remove(kept)
    for here, there in zip(_files(store), _files(kept), strict=True):
        if here.exists():
            os.replace(here, there)


async def restore(source: Path, store: Path) -> Copied:
    """Put a backup in place of the store (the daemon stopped); the old one is kept aside."""
    return await asyncio.to_thread(_restore, source, store)
