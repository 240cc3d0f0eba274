"""The SQLite store: one file, WAL mode, one connection; each public method one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from daemon.store.admin_sql import AdminSQL
from daemon.store.bounces_sql import BouncesSQL
from daemon.store.customers_sql import CustomersSQL
from daemon.store.db import said_if_damaged
from daemon.store.digest_sql import DigestSQL
from daemon.store.events_sql import EventsSQL
from daemon.store.export_sql import ExportSQL
from daemon.store.imports_sql import ImportsSQL
from daemon.store.influence_sql import InfluenceSQL
from daemon.store.lifecycle_sql import LifecycleSQL
from daemon.store.migrations import MIGRATIONS
from daemon.store.offers_sql import OffersSQL
from daemon.store.outbox_sql import OutboxSQL, suppression_keys
from daemon.store.partners_sql import PartnersSQL
from daemon.store.pause_sql import PauseSQL
from daemon.store.privacy_sql import PrivacySQL
from daemon.store.referrals_sql import ReferralsSQL
from daemon.store.reports_sql import ReportsSQL
from daemon.store.setaside_sql import SetAsideSQL
from daemon.store.surveys_sql import SurveysSQL
from daemon.store.webhooks_sql import WebhooksSQL


class SQLiteStore(
    EventsSQL,
    OutboxSQL,
    PauseSQL,
    SurveysSQL,
    ReportsSQL,
    ReferralsSQL,
    CustomersSQL,
    BouncesSQL,
    PrivacySQL,
    ExportSQL,
    OffersSQL,
    InfluenceSQL,
    PartnersSQL,
    LifecycleSQL,
    WebhooksSQL,
    DigestSQL,
    AdminSQL,
    ImportsSQL,
    SetAsideSQL,
):
    @classmethod
    async def open(cls, path: Path) -> SQLiteStore:
        """Open (creating if needed) and migrate the store at path; StoreDamaged if SQLite finds
        the file corrupt (it is read here: its header, schema and migrations)."""
        db = await cls.connect(path)
        try:
            await db.create_function(  # a forgotten address is suppressed by its hash only
                "vouch_sha256", 1, lambda e: suppression_keys(e)[1][7:], deterministic=True
            )
            store = cls(db, path)
            await store._migrate()
        except sqlite3.DatabaseError as exc:
            await db.close()
            said_if_damaged(exc, path)
            raise
        except BaseException:
            await db.close()
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
            known = max(version for version, _, _ in MIGRATIONS)
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
