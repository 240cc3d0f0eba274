"""The mail transport interface: hand one flattened message to the next hop.

Implementations: smtp (aiosmtplib, pooled), maildir (.eml files), memory (unit tests).
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    #: how many sends may usefully run at once (the SMTP pool size; 1 for a maildir)
    concurrency: int

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        """Deliver one message; return the server's reply (e.g. "250 OK").

        `key` names the logical email (stable across retries), so a transport that can be
        idempotent (the maildir) writes the same file again rather than a second copy.
        Raises TemporaryDeliveryError (retry later) or PermanentDeliveryError (never retry).
        """
        ...

    async def aclose(self) -> None:
        """Close pooled connections; in-flight sends finish first."""
        ...
