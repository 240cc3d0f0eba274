"""An in-memory Transport for unit tests: records what was sent, fails when told to."""

from __future__ import annotations

import email
import email.policy
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class Sent:
    envelope_from: str
    recipient: str
    message: bytes
    key: str

    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.message, policy=email.policy.default)


class MemoryTransport:
    """Records every send in `sent`; `fail_next(...)` scripts errors for the next sends."""

    def __init__(self, concurrency: int = 1) -> None:
        self.concurrency = concurrency
        self.sent: list[Sent] = []
        self.closed = False
        self._failures: deque[BaseException] = deque()

    def fail_next(self, *errors: BaseException) -> None:
        """Raise these, one a send and in order, before recording anything again."""
        self._failures.extend(errors)

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(Sent(envelope_from, recipient, message, key))
        return f"250 OK queued as {len(self.sent)}"

    async def aclose(self) -> None:
        self.closed = True
