"""Pytest fixtures around tests/smtp_server.py; import them from conftest.py:

from smtp_fixtures import smtp_server, smtp_server_starttls, smtp_tls, threaded_smtp_server
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from smtp_server import RecordingHandler, SmtpServer, ThreadedSmtpServer, TlsMaterial


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA and server certificate; `.ca_file` is the PEM to trust."""
    return TlsMaterial.create(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """A plain recording SMTP server in the test's event loop."""
    async with SmtpServer(RecordingHandler()) as server:
        yield server


@pytest.fixture
async def smtp_server_starttls(smtp_tls: TlsMaterial) -> AsyncIterator[SmtpServer]:
    """STARTTLS required, then AUTH (smtp_server.USERNAME / PASSWORD) required."""
    async with SmtpServer(RecordingHandler(), security="starttls", tls=smtp_tls, auth=True) as s:
        yield s


@pytest.fixture
def threaded_smtp_server() -> Iterator[ThreadedSmtpServer]:
    """A plain recording SMTP server on its own thread, for subprocess or blocking clients."""
    with ThreadedSmtpServer(RecordingHandler()) as server:
        yield server
