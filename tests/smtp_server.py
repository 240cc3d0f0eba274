"""A real aiosmtpd server for tests: records what it receives and fails on demand.

Two ways to run the same server on 127.0.0.1 and a free port:

- `SmtpServer`: inside the running event loop (async tests; nothing to wait for at start).
- `ThreadedSmtpServer`: on its own thread and loop via aiosmtpd's Controller, for clients that
  block the loop or run in a subprocess (e.g. the real daemon).

    handler = RecordingHandler()
    handler.fail_rcpt("451 4.3.0 try later", times=2)
    handler.refuse("gone@example.com", "550 5.1.1 <{rcpt}>: no such user")
    async with SmtpServer(handler, security="starttls", tls=tls, auth=True) as server:
        transport = SmtpTransport(server.smtp_settings(), PASSWORD, clock, base_dir=tmp_path)
        ...
        assert handler.messages[0].message()["Subject"] == "..."
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from daemon.config import Smtp

HOST = "127.0.0.1"
USERNAME = "vouch"
PASSWORD = "correct horse battery staple"
PASSWORD_ENV = "VOUCH_TEST_SMTP_PASSWORD"
DROP = "drop"  # a scripted DATA action: close the connection instead of replying
STALL = "stall"  # a scripted DATA action: never reply (until the client gives up)

Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any  # (host, port) of the client connection
    authenticated: bool

    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class _Script:
    """Replies for the next commands, in order; a reply given with times=None repeats forever."""

    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._always: str | None = None

    def add(self, reply: str, times: int | None) -> None:
        if times is None:
            self._always = reply
        else:
            self._queue.extend([reply] * times)

    def next(self) -> str | None:
        return self._queue.popleft() if self._queue else self._always


class RecordingHandler:
    """An aiosmtpd handler that records messages and plays scripted faults."""

    def __init__(self, *, stall_seconds: float = 3600.0) -> None:
        self.messages: list[Received] = []
        self.rcpts: list[str] = []  # every address given to RCPT, accepted or refused
        self.stall_seconds = stall_seconds
        self._peers: list[Any] = []
        self.repair()

    def repair(self) -> None:
        """Forget every scripted fault: the server answers as a healthy relay again."""
        self._auth = _Script()
        self._mail = _Script()
        self._rcpt = _Script()
        self._data = _Script()
        self._refused: dict[str, str] = {}

    @property
    def connections(self) -> int:
        """How many client connections issued at least one RCPT."""
        return len(set(self._peers))

    def fail_auth(self, reply: str, times: int | None = 1) -> None:
        """Answer the next `times` AUTH commands (None: all of them) with `reply`."""
        self._auth.add(reply, times)

    def fail_mail(self, reply: str, times: int | None = 1) -> None:
        """Answer the next `times` MAIL FROM commands (None: all of them) with `reply`."""
        self._mail.add(reply, times)

    def fail_rcpt(self, reply: str, times: int | None = 1) -> None:
        """Answer the next `times` RCPT commands (None: all of them) with `reply`; "{rcpt}"
        in it stands for the recipient's address, as real relays quote it."""
        self._rcpt.add(reply, times)

    def refuse(self, address: str, reply: str) -> None:
        """Answer every RCPT for `address` with `reply` (after any scripted fail_rcpt)."""
        self._refused[address.lower()] = reply

    def fail_data(self, reply: str, times: int | None = 1) -> None:
        """Answer the next `times` messages (after DATA's content) with `reply`."""
        self._data.add(reply, times)

    def drop_data(self, times: int | None = 1) -> None:
        """Close the connection after the next message's content, without a reply."""
        self._data.add(DROP, times)

    def stall_data(self, times: int | None = 1) -> None:
        """Never reply to the next message's content (for `stall_seconds`)."""
        self._data.add(STALL, times)

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        """A scripted reply, else MISSING: aiosmtpd then authenticates as configured."""
        reply = self._auth.next()
        return MISSING if reply is None else reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._mail.next()
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._peers.append(session.peer)
        self.rcpts.append(address)
        reply = self._rcpt.next() or self._refused.get(address.lower())
        if reply is not None:
            return reply.replace("{rcpt}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        action = self._data.next()
        if action == DROP:
            _abort(server.transport)
            await asyncio.Event().wait()  # connection_lost cancels this task
        if action == STALL:
            await asyncio.sleep(self.stall_seconds)
            return "451 4.3.0 stalled"
        if action is not None:
            return action
        assert envelope.mail_from is not None
        assert isinstance(envelope.original_content, bytes)
        self.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content,
                peer=session.peer,
                authenticated=bool(session.authenticated),
            )
        )
        return f"250 OK queued as {len(self.messages)}"


def _abort(transport: asyncio.BaseTransport | None) -> None:
    """Drop a connection at once, without the polite close (or TLS close_notify)."""
    if isinstance(transport, asyncio.Transport):
        transport.abort()


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class TlsMaterial:
    """A throwaway CA (trustme) and a server certificate for localhost and 127.0.0.1."""

    ca: trustme.CA
    ca_file: Path
    server_context: ssl.SSLContext

    @classmethod
    def create(cls, directory: Path) -> TlsMaterial:
        ca = trustme.CA()
        ca_file = directory / "smtp-test-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", HOST).configure_cert(context)
        return cls(ca, ca_file, context)


class _Base:
    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        security: Security = "none",
        tls: TlsMaterial | None = None,
        auth: bool = False,
    ) -> None:
        if security != "none" and tls is None:
            raise ValueError(f"security={security!r} needs tls=TlsMaterial.create(...)")
        self.handler = handler or RecordingHandler()
        self.security: Security = security
        self.tls = tls
        self.auth = auth
        self.host = HOST
        self.port = 0

    def _smtp_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"hostname": "localhost", "enable_SMTPUTF8": True}
        if self.security == "starttls":
            assert self.tls is not None
            kwargs.update(tls_context=self.tls.server_context, require_starttls=True)
        if self.auth:
            # aiosmtpd only counts STARTTLS as TLS; over implicit TLS it must not insist.
            require_tls = self.security == "starttls"
            kwargs.update(
                authenticator=_authenticate, auth_require_tls=require_tls, auth_required=require_tls
            )
        return kwargs

    def _ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.server_context if self.security == "tls" and self.tls else None

    def smtp_settings(self, **overrides: Any) -> Smtp:
        """daemon.config.Smtp pointing at this server (pass PASSWORD to the transport)."""
        fields: dict[str, Any] = {"host": self.host, "port": self.port, "security": self.security}
        if self.tls is not None:
            fields["ca_file"] = self.tls.ca_file
        if self.auth:
            fields.update(username=USERNAME, password_env=PASSWORD_ENV)
        fields.update(overrides)
        return Smtp(**fields)


class SmtpServer(_Base):
    """The recording server, listening inside the running event loop."""

    _server: asyncio.Server | None = None

    async def start(self) -> Self:
        loop = asyncio.get_running_loop()
        self._protocols: list[SMTP] = []

        def factory() -> SMTP:
            protocol = SMTP(self.handler, loop=loop, **self._smtp_kwargs())
            self._protocols.append(protocol)
            return protocol

        self._server = await loop.create_server(factory, HOST, 0, ssl=self._ssl_context())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and cut every open connection (Python 3.11's close() leaves them)."""
        if self._server is None:
            return
        self._server.close()
        await self.disconnect_all()
        await self._server.wait_closed()
        self._server = None

    async def disconnect_all(self) -> None:
        """Cut every open client connection, as a relay restarting or timing out idlers would."""
        tasks = []
        for protocol in self._protocols:
            # After a failed STARTTLS handshake aiosmtpd may never see the abort: cancel too.
            _abort(protocol.transport)
            _abort(protocol._original_transport)
            if protocol._handler_coroutine is not None:
                protocol._handler_coroutine.cancel()
                tasks.append(protocol._handler_coroutine)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class _Controller(Controller):
    def __init__(self, owner: ThreadedSmtpServer) -> None:
        super().__init__(
            owner.handler, hostname=HOST, port=0, ready_timeout=30, ssl_context=owner._ssl_context()
        )
        self._owner = owner

    def factory(self) -> SMTP:
        return SMTP(self.handler, loop=self.loop, **self._owner._smtp_kwargs())

    def _trigger_server(self) -> None:
        # Controller keeps port=0 as given; learn the bound port before it connects to itself.
        assert isinstance(self.server, asyncio.Server)
        self.port = self._owner.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class ThreadedSmtpServer(_Base):
    """The recording server on its own thread and loop (aiosmtpd's Controller)."""

    _controller: _Controller | None = None

    def start(self) -> Self:
        self._controller = _Controller(self)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for_messages(self, count: int, timeout: float) -> None:
        """Block until the server holds `count` messages (it runs on another thread)."""
        self.wait_until(lambda: len(self.handler.messages) >= count, timeout)

    def wait_for_ids(self, expected: set[str], timeout: float) -> None:
        """Block until a message with each Message-ID of `expected` has arrived (each message
        read once, however many thousand come)."""
        missing, read = set(expected), 0

        def all_arrived() -> bool:
            nonlocal read
            arrived = self.handler.messages[read:]
            read += len(arrived)
            missing.difference_update(m.message()["Message-ID"] for m in arrived)
            return not missing

        self.wait_until(all_arrived, timeout)

    def wait_until(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up after {timeout} s: {len(self.handler.messages)} messages"
                )
            time.sleep(0.01)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
