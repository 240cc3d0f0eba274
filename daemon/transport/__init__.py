"""Mail transports: hand one flattened message to the next hop (SMTP relay or a maildir)."""

from __future__ import annotations

from daemon.clock import Clock
from daemon.config import Config
from daemon.transport.base import Transport
from daemon.transport.maildir import MaildirTransport
from daemon.transport.memory import MemoryTransport
from daemon.transport.smtp import SmtpTransport

__all__ = ["MaildirTransport", "MemoryTransport", "SmtpTransport", "Transport", "build_transport"]


def build_transport(config: Config, clock: Clock) -> Transport:
    """The transport config.toml asks for (email.transport)."""
    email = config.settings.email
    if email.transport == "smtp":
        return SmtpTransport.from_config(config, clock)
    return MaildirTransport(config.resolve(email.maildir.path))
