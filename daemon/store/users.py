"""Named dashboard users, the sessions they hold, and what they did from the dashboard.

A session belongs to a user (or, with no user id, to the shared-password owner, honoured only
while no user exists): a password change, disabling the user, or the first user's creation ends
them here, so a cookie that still verifies is refused after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import Action, Holder, User

SHARED_OWNER = "owner"  # the name the shared password's sessions and actions go by
_USER = "id, email, name, role, password_hash, created_at, disabled_at"


class Users(Protocol):
    """The dashboard's users, their sessions, and the record of who did what."""

    async def user_count(self) -> int: ...
    async def add_user(
        self, email: str, name: str, role: str, password_hash: str, now: datetime
    ) -> User | None: ...
    async def user_by_email(self, email: str) -> User | None: ...
    async def users(self) -> list[User]: ...
    async def set_password(
        self,
        user_id: int,
        password_hash: str,
        now: datetime,
        keep: bytes | None = None,
        rehash: bool = False,
    ) -> None: ...
    async def disable_user(self, user_id: int, now: datetime) -> bool: ...
    async def open_session(
        self, session_id: bytes, expires_at: datetime, now: datetime, user_id: int | None = None
    ) -> None: ...
    async def session_holder(self, session_id: bytes, now: datetime) -> Holder | None: ...
    async def end_session(self, session_id: bytes) -> None: ...
    async def record_action(
        self, holder: Holder, action: str, item: str, now: datetime
    ) -> None: ...
    async def last_actions(self, items: Sequence[str]) -> dict[str, Action]: ...


class UsersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def user_count(self) -> int:
        """Users ever made (a disabled one counts: the shared password does not come back)."""
        return int(await self._value("SELECT count(*) FROM users"))

    async def add_user(
        self, email: str, name: str, role: str, password_hash: str, now: datetime
    ) -> User | None:
        """A new user; None if the email is taken. The first user ends the shared password's
        sessions (it logs no one in from now on)."""
        async with self._tx() as tx:
            added = await tx.execute(
                "INSERT INTO users (email, name, role, password_hash, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                email,
                name,
                role,
                password_hash,
                now,
                now,
            )
            if added == 0:
                return None
            await tx.execute("DELETE FROM admin_sessions WHERE user_id IS NULL")
        return await self.user_by_email(email)

    async def user_by_email(self, email: str) -> User | None:
        return await self._one(User, f"SELECT {_USER} FROM users WHERE email = ?", email)

    async def users(self) -> list[User]:
        return await self._list(User, f"SELECT {_USER} FROM users ORDER BY name, email")

    async def set_password(
        self,
        user_id: int,
        password_hash: str,
        now: datetime,
        keep: bytes | None = None,
        rehash: bool = False,
    ) -> None:
        """A new password hash; every session of the user ends but `keep` (the one that changed
        it, if any), unless it is the same password `rehash`ed with today's parameters."""
        async with self._tx() as tx:
            await tx.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                password_hash,
                now,
                user_id,
            )
            if rehash:
                return
            if keep is None:
                await tx.execute("DELETE FROM admin_sessions WHERE user_id = ?", user_id)
            else:
                await tx.execute(
                    "DELETE FROM admin_sessions WHERE user_id = ? AND id != ?", user_id, keep
                )

    async def disable_user(self, user_id: int, now: datetime) -> bool:
        """Disable a user and end their sessions; False if there is no such enabled user."""
        async with self._tx() as tx:
            disabled = await tx.execute(
                "UPDATE users SET disabled_at = ?, updated_at = ? "
                "WHERE id = ? AND disabled_at IS NULL",
                now,
                now,
                user_id,
            )
            await tx.execute("DELETE FROM admin_sessions WHERE user_id = ?", user_id)
        return disabled > 0

    async def open_session(
        self, session_id: bytes, expires_at: datetime, now: datetime, user_id: int | None = None
    ) -> None:
        """Record a new dashboard session (and forget those that have expired)."""
        async with self._tx() as tx:
            await tx.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", now)
            await tx.execute(
                "INSERT INTO admin_sessions (id, expires_at, user_id) VALUES (?, ?, ?)",
                session_id,
                expires_at,
                user_id,
            )

    async def session_holder(self, session_id: bytes, now: datetime) -> Holder | None:
        """Who holds this session, if it was opened and has neither ended nor expired (and
        its user is enabled; a shared-password one only while no user exists)."""
        return await self._one(
            Holder,
            "SELECT s.user_id, coalesce(u.name, ?), coalesce(u.role, 'owner') "
            "FROM admin_sessions s LEFT JOIN users u ON u.id = s.user_id "
            "WHERE s.id = ? AND s.expires_at > ? AND CASE WHEN s.user_id IS NULL "
            "THEN NOT EXISTS (SELECT 1 FROM users) ELSE u.disabled_at IS NULL END",
            SHARED_OWNER,
            session_id,
            now,
        )

    async def end_session(self, session_id: bytes) -> None:
        await self._apply("DELETE FROM admin_sessions WHERE id = ?", session_id)

    async def record_action(self, holder: Holder, action: str, item: str, now: datetime) -> None:
        """Who did what to which item from the dashboard (the name kept as it was then)."""
        await self._apply(
            "INSERT INTO admin_actions (at, user_id, by, action, item) VALUES (?, ?, ?, ?, ?)",
            now,
            holder.user_id,
            holder.name,
            action,
            item,
        )

    async def last_actions(self, items: Sequence[str]) -> dict[str, Action]:
        """The latest dashboard action on each of `items` that has one (the later recorded of
        two at the same time)."""
        if not items:
            return {}
        among, params = self._in(items)
        found = await self._list(
            Action,
            "SELECT a.item, a.action, a.by, a.at FROM admin_actions a "
            f"WHERE a.item {among} AND a.id = (SELECT b.id FROM admin_actions b "
            "WHERE b.item = a.item ORDER BY b.at DESC, b.id DESC LIMIT 1)",
            *params,
        )
        return {a.item: a for a in found}


class UsersSQL(UsersQueries, DB):
    pass


class UsersPG(UsersQueries, PGDB):
    """Dashboard users, sessions and actions on PostgreSQL: the same calls."""
