"""The error family.

VouchError
 ├── ConfigError            config, survey or template problems (carries every problem)
 ├── StoreDamaged           the store's file is damaged: only a backup brings it back
 └── DeliveryError          a transport could not hand a message over
      ├── TemporaryDeliveryError   retry later (4xx, timeouts, dropped connections)
      └── PermanentDeliveryError   never retry; the address is suppressed (5xx)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


class StoreDamaged(VouchError):
    """SQLite says the store's file is corrupt or not a database: said in one line, with the
    way back (`vouch restore`), rather than the traceback of the query that found it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"the store {path} is damaged ({reason}); restore your latest backup with "
            f"`vouch restore BACKUP_FILE` (the damaged file is kept as {path.name}.before-restore)"
        )


class DeliveryError(VouchError):
    """A message could not be handed to the next hop."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying: 4xx replies, timeouts, dropped connections."""


class PermanentDeliveryError(DeliveryError):
    """Not worth retrying: the server refused the recipient or message (5xx)."""
