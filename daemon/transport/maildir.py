"""Write each message as a .eml file in a maildir: the default transport, safe for trying Vouch.

The file name comes from the message key, so a retried send replaces its own file rather than
leaving a second copy, and a reader never sees half a file (tmp/ then rename into new/).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from pathlib import Path

from daemon.errors import TemporaryDeliveryError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(key: str) -> str:
    """A safe, stable file name for `key`; the hash keeps keys that sanitise alike apart."""
    readable = _UNSAFE.sub("_", key).strip("._-")[:80] or "message"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{readable}-{digest}.eml"


class MaildirTransport:
    """A Transport that writes files under `path`/new/ instead of sending."""

    concurrency = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        name = file_name(key)
        try:
            await asyncio.to_thread(self._write, name, message)
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot write {self.path / 'new' / name}: {exc}") from exc
        return f"250 written new/{name}"

    def _write(self, name: str, message: bytes) -> None:
        tmp_dir, new_dir = self.path / "tmp", self.path / "new"
        for folder in (tmp_dir, new_dir, self.path / "cur"):
            folder.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{name}.{uuid.uuid4().hex}"
        try:
            with tmp.open("wb") as f:
                f.write(message)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(new_dir / name)
        finally:
            tmp.unlink(missing_ok=True)

    async def aclose(self) -> None:
        return None
