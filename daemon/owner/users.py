"""Named dashboard users: the one code path `vouch user ...` and the dashboard's Users page share.

Passwords are hashed with argon2id (argon2-cffi's PasswordHasher, memory-hard; a hash made with
weaker parameters than today's is redone at the next good login). Only the hash is stored. An
unknown email is checked against a dummy hash, so a wrong address costs as long as a wrong
password. The first user must be an owner (they replace the shared password, which logs no one
in once a user exists), and the last enabled owner cannot be disabled. Hashing and verifying
take tens of milliseconds and 64 MiB by design, so they run off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from daemon.config import MIN_SECRET_LENGTH
from daemon.engine.inputs import address, text_problem
from daemon.errors import VouchError
from daemon.store.rows import User
from daemon.store.users import Users

ROLES = ("owner", "staff")
MAX_NAME = 100
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("a password no one has: the dummy an unknown email is checked against")


class UserError(VouchError):
    """A user change refused, naming the field (email, name, role, password) and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def email_of(raw: str) -> str:
    """An address as users are keyed by: checked, trimmed and lower-cased."""
    try:
        return address(raw.strip()).lower()
    except ValueError as exc:
        raise UserError("email", str(exc)) from None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters"
    return None


async def _hash(password: str) -> str:
    if problem := password_problem(password):
        raise UserError("password", problem)
    return await asyncio.to_thread(_HASHER.hash, password)


async def add(store: Users, email: str, name: str, role: str, password: str, now: datetime) -> User:
    """A new dashboard user (`vouch user add`, the Users page)."""
    key = email_of(email)
    name = name.strip()
    if not name or (problem := text_problem(name)) or len(name) > MAX_NAME:
        raise UserError("name", problem or f"must be 1 to {MAX_NAME} characters")
    if role not in ROLES:
        raise UserError("role", f"must be owner or staff (not {role!r})")
    if role != "owner" and not await store.user_count():
        raise UserError("role", "the first user must be an owner: they replace the password")
    made = await store.add_user(key, name, role, await _hash(password), now)
    if made is None:
        raise UserError("email", f"{key} is already a user")
    return made


async def find(store: Users, email: str) -> User:
    found = await store.user_by_email(email_of(email))
    if found is None:
        raise UserError("email", f"no user {email.strip()!r}")
    return found


async def set_password(
    store: Users, email: str, password: str, now: datetime, keep: bytes | None = None
) -> User:
    """A new password for a user; their sessions end (but `keep`, the one that changed it)."""
    user = await find(store, email)
    await store.set_password(user.id, await _hash(password), now, keep)
    return user


async def disable(store: Users, email: str, now: datetime) -> User:
    """A user can no longer log in, and their sessions end now."""
    user = await find(store, email)
    if user.disabled_at is not None:
        raise UserError("email", f"{user.email} is already disabled")
    others = [
        u for u in await store.users() if u.role == "owner" and u.disabled_at is None and u != user
    ]
    if user.role == "owner" and not others:
        raise UserError("email", f"{user.email} is the last owner: add another owner first")
    await store.disable_user(user.id, now)
    return user


async def login(store: Users, email: str, password: str, now: datetime) -> User | None:
    """The enabled user with this email and password, or None; the same work either way."""
    try:
        key = email_of(email)
    except UserError:
        key = ""
    user = await store.user_by_email(key) if key else None
    try:
        await asyncio.to_thread(_HASHER.verify, user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        await store.set_password(
            user.id, await asyncio.to_thread(_HASHER.hash, password), now, rehash=True
        )
    return user
