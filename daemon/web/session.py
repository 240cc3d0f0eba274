"""The owner's dashboard session: a signed cookie, a CSRF token bound to it, and a brake on
password guessing.

The session cookie is `signer.sign("admin-session", id ‖ expiry)`: a random id and the expiry
(from the injected clock), MACed with the link-signing key, so it cannot be forged or extended
and a key rotation ends every session. The store records each session's id at login (with the
user who holds it) and forgets it at logout, a password change or the user's disabling, so a
cookie replayed after is refused. It is HttpOnly and SameSite=Strict, and Secure whenever the
request came over HTTPS. Every form carries
`signer.sign("admin-csrf", id)`, which only the holder of that session can know; every POST is
checked against it. The login form, before any session exists, uses a signed double-submit
cookie instead.

Failed logins are counted per client address: after `limit` failures within `window` the
address is locked for `lock` (even the right password is refused then), on the injected clock.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.clock import Clock, from_ms, to_ms
from daemon.mail.tokens import Signer
from daemon.store.rows import Holder

SESSION_COOKIE = "vouch_admin"
LOGIN_COOKIE = "vouch_login"
SESSION_LIFE = timedelta(hours=12)
_ID_BYTES = 16


@dataclass(frozen=True)
class Session:
    """A dashboard session; `holder` (who is logged in) once the store has confirmed it."""

    id: bytes
    expires_at: datetime
    holder: Holder | None = None

    @property
    def who(self) -> Holder:
        assert self.holder is not None, "a session read from the store has its holder"
        return self.holder


def new_session(now: datetime) -> Session:
    return Session(secrets.token_bytes(_ID_BYTES), now + SESSION_LIFE)


def session_cookie(signer: Signer, session: Session) -> str:
    return signer.sign("admin-session", session.id + to_ms(session.expires_at).to_bytes(8, "big"))


def read_session(signer: Signer, cookie: str | None, now: datetime) -> Session | None:
    """The session a cookie holds, if it is genuine and has not expired."""
    payload = signer.verify("admin-session", cookie) if cookie else None
    if payload is None or len(payload) != _ID_BYTES + 8:
        return None
    expires_at = from_ms(int.from_bytes(payload[_ID_BYTES:], "big"))
    return Session(payload[:_ID_BYTES], expires_at) if now < expires_at else None


def csrf_token(signer: Signer, session: Session) -> str:
    return signer.sign("admin-csrf", session.id)


def csrf_ok(signer: Signer, session: Session, token: object) -> bool:
    if not isinstance(token, str):
        return False
    payload = signer.verify("admin-csrf", token)
    return payload is not None and hmac.compare_digest(payload, session.id)


def login_nonce(signer: Signer) -> str:
    """The login form's token, also set as a cookie: the two must match (double submit)."""
    return signer.sign("admin-login", secrets.token_bytes(_ID_BYTES))


def login_nonce_ok(signer: Signer, cookie: str | None, field: object) -> bool:
    return (
        isinstance(field, str)
        and cookie is not None
        and hmac.compare_digest(field.encode(), cookie.encode())
        and signer.verify("admin-login", cookie) is not None
    )


def password_ok(expected: str | None, given: object) -> bool:
    """Constant-time comparison; with no password configured nothing is accepted."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class LoginGuard:
    """Failed logins per client address, in memory (a restart forgives; at most `max_entries`
    addresses are remembered, the least recently seen forgotten first)."""

    def __init__(
        self,
        clock: Clock,
        limit: int = 5,
        window: float = 15 * 60,
        lock: float = 15 * 60,
        max_entries: int = 10_000,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.lock = lock
        self.max_entries = max_entries
        self._seen: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def locked_for(self, address: str) -> float:
        """Seconds this address must still wait before it may try a password; 0 if it may."""
        _, _, until = self._seen.get(address, (0, 0.0, 0.0))
        return max(0.0, until - self.clock.monotonic())

    def failed(self, address: str) -> None:
        now = self.clock.monotonic()
        failures, first, until = self._seen.pop(address, (0, now, 0.0))
        if now - first > self.window:
            failures, first = 0, now
        failures += 1
        if failures >= self.limit:
            failures, first, until = 0, now, now + self.lock
        self._seen[address] = (failures, first, until)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._seen.pop(address, None)
