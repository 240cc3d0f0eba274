"""The error family.

VouchError
 ├── ConfigError            config, survey or template problems (carries every problem)
 ├── StoreUnavailable       the store cannot be used now (disk full, I/O error, locked): retry
 │    └── StoreDamaged       the store's file is damaged: only a backup brings it back
 └── DeliveryError          a transport could not hand a message over
      ├── TemporaryDeliveryError   retry later (4xx, timeouts, dropped connections)
      └── PermanentDeliveryError   a final refusal (5xx); whom it is about decides what follows
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.engine.refusals import Refusal


class VouchError(Exception):
    """Base of every error Vouch raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an owner-edited file: where, and what would be valid."""

    file: str
    where: str  # a key path ("email.smtp.port") or "line 12"
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.where}: {self.message}"
            if self.where
            else f"{self.file}: {self.message}"
        )


class ConfigError(VouchError):
    """Raised with every problem found, so the owner fixes them in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreUnavailable(VouchError):
    """The store refused for a reason of its own, not of the data: the disk is full, an I/O
    error, the file locked too long. Worth retrying later; never the fault of one item."""


class StoreDamaged(StoreUnavailable):
    """SQLite says the store's file is corrupt or not a database: said in one line, with the
    way back (`vouch restore`), rather than the traceback of the query that found it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"the store {path} is damaged ({reason}); restore your latest backup with "
            f"`vouch restore BACKUP_FILE` (the damaged file is kept as {path.name}.before-restore)"
        )


class DeliveryError(VouchError):
    """A message could not be handed to the next hop. `refusal`: the relay's reply and where it
    came, when a relay refused (the sender reads from it whom a permanent one is about)."""

    def __init__(
        self, message: str, code: int | None = None, *, refusal: Refusal | None = None
    ) -> None:
        self.code = code
        self.refusal = refusal
        super().__init__(message)


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying: 4xx replies, timeouts, dropped connections."""


class PermanentDeliveryError(DeliveryError):
    """Not worth retrying as it is: the server refused for good (5xx). With a `refusal`, the
    engine's `refusals.about` says whether it is about the recipient (suppress it) or about us
    (pause sending); without one, the transport itself refused the recipient's address."""
