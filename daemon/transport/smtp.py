"""Send over SMTP with aiosmtplib: a few reused connections, a whole-send timeout, a rate limit.

Every failure becomes a DeliveryError the outbox understands: Permanent for a 5xx reply wherever
it came (greeting, AUTH, MAIL FROM, RCPT, DATA), Temporary for everything else. A server's reply
travels with the error as a `Refusal` (where it came, what it said): the sender asks the engine
whom it is about, so that a refused login or sender pauses sending instead of suppressing a
customer for a mistake on our side.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from aiosmtplib.email import parse_address

from daemon.clock import Clock
from daemon.config import Config, Smtp
from daemon.engine.refusals import Refusal, Stage
from daemon.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    Problem,
    TemporaryDeliveryError,
)

QUIT_TIMEOUT_SECONDS = 5.0


class RateLimiter:
    """Spaces sends evenly at `per_minute` (a token bucket holding one token); 0 means no limit.

    The slot is reserved before waiting, so concurrent senders queue up instead of bunching.
    """

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._next_at: float | None = None

    async def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock.monotonic()
        at = now if self._next_at is None else max(now, self._next_at)
        self._next_at = at + self._interval
        if at > now:
            await self._clock.sleep(at - now)


class SmtpTransport:
    """A Transport over SMTP with `settings.connections` reused connections.

    A connection that saw any error is closed and dropped, never reconnected: aiosmtplib can
    hang when an SMTP object is reconnected without close() (its issues 15, 38).
    """

    def __init__(
        self, settings: Smtp, password: str | None, clock: Clock, *, base_dir: Path
    ) -> None:
        self.concurrency = settings.connections
        self._settings = settings
        self._password = password
        self._limiter = RateLimiter(settings.rate_per_minute, clock)
        self._slots = asyncio.Semaphore(settings.connections)
        self._idle: list[SMTP] = []
        self._local_hostname: str | None = None
        self._closed = False
        self._tls_context: ssl.SSLContext | None = None
        if settings.security != "none":
            ca_file = base_dir / settings.ca_file if settings.ca_file else None  # abs stays abs
            self._tls_context = ssl.create_default_context(cafile=ca_file)

    @classmethod
    def from_config(cls, config: Config, clock: Clock) -> SmtpTransport:
        """Build from config.toml; an unreadable ca_file is a ConfigError naming the key."""
        settings = config.settings.email.smtp
        if settings is None:
            raise ConfigError([Problem(config.path.name, "email.smtp", "the table is missing")])
        try:
            return cls(settings, config.secrets.smtp_password, clock, base_dir=config.root)
        except (OSError, ssl.SSLError) as exc:
            where = "email.smtp.ca_file"
            message = f"cannot load a PEM bundle of certificate authorities: {exc}"
            raise ConfigError([Problem(config.path.name, where, message)]) from None

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        """Deliver one message; return the DATA reply, e.g. "250 OK"."""
        if _bare_address(recipient) != recipient:
            raise PermanentDeliveryError(f"not a bare address, cannot be sent: {recipient!r}")
        await self._limiter.wait()
        async with self._slots:
            if self._closed:
                raise RuntimeError("SmtpTransport is closed")
            return await self._send_on_pooled(envelope_from, recipient, message)

    async def _send_on_pooled(self, envelope_from: str, recipient: str, message: bytes) -> str:
        timeout = self._settings.timeout_seconds
        options = [] if (envelope_from + recipient).isascii() else ["SMTPUTF8"]
        smtp = self._take_idle()
        ok = False
        try:
            async with asyncio.timeout(timeout):
                if smtp is None:
                    smtp = await self._connect()
                    reused = False
                else:
                    reused = True
                try:
                    _, reply = await smtp.sendmail(
                        envelope_from, [recipient], message, mail_options=options
                    )
                except SMTPServerDisconnected:
                    if not reused:
                        raise
                    # A reused connection the server had dropped (idle timeout, restart): no
                    # 250 came back, so sending again on a new connection is an ordinary retry.
                    smtp.close()
                    smtp = None
                    smtp = await self._connect()
                    _, reply = await smtp.sendmail(
                        envelope_from, [recipient], message, mail_options=options
                    )
            ok = True
        except TimeoutError as exc:
            raise TemporaryDeliveryError(f"SMTP send timed out after {timeout:g}s") from exc
        except (SMTPException, OSError, ValueError) as exc:
            raise _classify(exc) from exc
        finally:
            if smtp is not None:
                if ok:
                    self._idle.append(smtp)
                else:
                    smtp.close()
        return f"250 {reply}"

    def _take_idle(self) -> SMTP | None:
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
            smtp.close()
        return None

    async def _connect(self) -> SMTP:
        if self._local_hostname is None:
            # aiosmtplib would otherwise look the name up again on every connect.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        s = self._settings
        smtp = SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=self._password if s.username else None,
            local_hostname=self._local_hostname,
            timeout=s.timeout_seconds,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=self._tls_context,
        )
        await smtp.connect()  # closes itself on failure
        return smtp

    async def aclose(self) -> None:
        """Wait for in-flight sends, then QUIT every idle connection."""
        if self._closed:
            return
        self._closed = True
        for _ in range(self.concurrency):
            await self._slots.acquire()
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                async with asyncio.timeout(QUIT_TIMEOUT_SECONDS):
                    await smtp.quit()
            except (SMTPException, OSError, TimeoutError):
                pass
            finally:
                smtp.close()
        for _ in range(self.concurrency):
            self._slots.release()


def _bare_address(address: str) -> str | None:
    """What aiosmtplib would put on the RCPT line; it quietly extracts from "Ann <a@b>"."""
    try:
        return parse_address(address)
    except ValueError:
        return None


def _classify(exc: SMTPException | OSError | ValueError) -> DeliveryError:
    """Map an aiosmtplib failure to the outbox's two outcomes, with the server's reply."""
    if isinstance(exc, SMTPRecipientsRefused):
        refused = exc.recipients[0]
        return _refused(Stage.RCPT, refused, "recipient refused")
    if isinstance(exc, SMTPDataError):
        return _refused(Stage.DATA, exc, "message refused")
    if isinstance(exc, SMTPSenderRefused):
        return _refused(
            Stage.MAIL,
            exc,
            f"the SMTP server refused our sender address {exc.sender!r}",
            "(check business.email and the relay's allowed senders)",
        )
    if isinstance(exc, SMTPAuthenticationError):
        return _refused(
            Stage.AUTH,
            exc,
            "SMTP authentication failed",
            "(check email.smtp.username and the password environment variable)",
        )
    if isinstance(exc, SMTPResponseException):  # the greeting, EHLO or STARTTLS
        return _refused(Stage.CONNECT, exc, "SMTP error")
    if isinstance(exc, SMTPNotSupported):
        return TemporaryDeliveryError(f"the SMTP server cannot take this message: {exc}")
    if isinstance(exc, ssl.SSLError):
        return TemporaryDeliveryError(f"TLS failed (check email.smtp.ca_file): {exc}")
    if isinstance(exc, ValueError):  # the recipient was checked first, so this is our sender
        return TemporaryDeliveryError(f"the sender address cannot be sent: {exc}")
    if isinstance(exc, SMTPException) and "auth" in str(exc).lower():
        return TemporaryDeliveryError(f"SMTP authentication is not possible: {exc}")
    return TemporaryDeliveryError(f"SMTP connection failed: {exc}")


def _refused(stage: Stage, exc: SMTPResponseException, what: str, hint: str = "") -> DeliveryError:
    """A server's reply: permanent when it is a 5xx, carried as a Refusal either way."""
    reply = f"{exc.code} {exc.message}"
    message = f"{what}: {reply}" + (f" {hint}" if hint else "")
    kind = PermanentDeliveryError if 500 <= exc.code < 600 else TemporaryDeliveryError
    return kind(message, code=exc.code, refusal=Refusal(stage, reply))
