"""The SQLite store: one file, WAL mode, one connection; each public method one transaction.

`SQLiteStore` is the composition of every concern's SQLite half (each beside its Protocol in
this package); they share the one database layer (daemon/store/db.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from daemon.store.answers import AnswersSQL
from daemon.store.asks import AsksSQL
from daemon.store.bounces import BouncesSQL
from daemon.store.corrections import CorrectionsSQL
from daemon.store.customers import CustomersSQL
from daemon.store.dashboard import DashboardSQL
from daemon.store.db import said_if_damaged
from daemon.store.desk import DeskSQL
from daemon.store.digest import DigestSQL
from daemon.store.events import EventsSQL
from daemon.store.friend_offers import FriendOffersSQL
from daemon.store.funnel import FunnelSQL
from daemon.store.generations import GenerationsSQL
from daemon.store.influence import InfluenceSQL
from daemon.store.invitations import InvitationsSQL
from daemon.store.leases import LeasesSQL
from daemon.store.lifecycle import LifecycleSQL
from daemon.store.migrations import MIGRATIONS
from daemon.store.notes import NotesSQL
from daemon.store.offers import OffersSQL
from daemon.store.outbox import OutboxSQL, suppression_keys
from daemon.store.partners import PartnersSQL
from daemon.store.previews import PreviewsSQL
from daemon.store.privacy import PrivacySQL
from daemon.store.public_answers import PublicAnswersSQL
from daemon.store.referrals import ReferralsSQL
from daemon.store.replies import RepliesSQL
from daemon.store.reports import ReportsSQL
from daemon.store.reviews import ReviewAsksSQL
from daemon.store.rewards import RewardsSQL
from daemon.store.setaside import SetAsideSQL
from daemon.store.upcoming import UpcomingSQL
from daemon.store.users import UsersSQL
from daemon.store.wakes import WakesSQL
from daemon.store.webhooks import WebhooksSQL


class SQLiteStore(
    EventsSQL,
    CustomersSQL,
    OutboxSQL,
    BouncesSQL,
    InvitationsSQL,
    AnswersSQL,
    AsksSQL,
    ReferralsSQL,
    RewardsSQL,
    RepliesSQL,
    OffersSQL,
    FriendOffersSQL,
    FunnelSQL,
    InfluenceSQL,
    PartnersSQL,
    LifecycleSQL,
    WebhooksSQL,
    DigestSQL,
    SetAsideSQL,
    PrivacySQL,
    ReportsSQL,
    ReviewAsksSQL,
    DashboardSQL,
    UpcomingSQL,
    UsersSQL,
    LeasesSQL,
    PublicAnswersSQL,
    NotesSQL,
    DeskSQL,
    CorrectionsSQL,
    WakesSQL,
    GenerationsSQL,
    PreviewsSQL,
):
    @classmethod
    async def open(cls, path: Path) -> SQLiteStore:
        """Open (creating if needed) and migrate the store at path; StoreDamaged if SQLite finds
        the file corrupt (it is read here: its header, schema and migrations)."""
        db, hot = await cls.connect(path)
        try:
            await db.create_function(  # a forgotten address is suppressed by its hash only
                "vouch_sha256", 1, lambda e: suppression_keys(e)[1][7:], deterministic=True
            )
            store = cls(db, path, hot)
            await store._migrate()
        except BaseException as exc:
            hot.close()
            await db.close()
            if isinstance(exc, sqlite3.DatabaseError):
                said_if_damaged(exc, path)
            raise
        return store

    async def _migrate(self) -> None:
        async with self._write() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            cursor = await db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            known = LATEST
            if current > known:
                raise RuntimeError(
                    f"{self.path}: schema version {current} is newer than this Vouch ({known})"
                )
            for version, name, sql in MIGRATIONS:
                if version > current:
                    for statement in _statements(sql):
                        await db.execute(statement)
                    await db.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        (version, name),
                    )

    async def write_probe(self) -> None:
        """A small write that needs new room in the file, undone at once: raises
        StoreUnavailable when the store cannot write (disk full, I/O error), for /healthz."""
        async with self._write() as db:
            await db.execute("INSERT INTO write_probe (pad) VALUES (zeroblob(8192))")
            await db.execute("DELETE FROM write_probe")

    async def schema_version(self) -> int:
        rows = await self._read("SELECT max(version) FROM schema_migrations")
        return int(rows[0][0])


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations hold no `--` or `;` inside strings)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]


LATEST = max(version for version, _, _ in MIGRATIONS)


def stored_version(path: Path) -> int | None:
    """The schema version of the store file at `path`, read without changing it (for `vouch
    check`, which must not migrate); None when there is no file yet, 0 for one never migrated."""
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    except sqlite3.DatabaseError as exc:
        said_if_damaged(exc, path)
        raise
    return int(row[0] or 0)
