"""`vouch run` as a real process: serving, signals, reload, and kill -9 in the middle of sending."""

from __future__ import annotations

import asyncio
import collections
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from daemon.clock import SystemClock
from daemon.config import load_config
from daemon.mail.outbox import NewEmail, State
from daemon.run.services import open_store

from daemon_process import DaemonProcess
from helpers import ENV, TOKEN, write_business
from smtp_server import ThreadedSmtpServer

pytestmark = pytest.mark.slow


def test_run_refuses_a_bad_config(tmp_path: Path) -> None:
    path = write_business(tmp_path, {"server": {"port": "eighty"}})
    daemon = DaemonProcess(path)
    with pytest.raises(AssertionError, match="never logged"):
        daemon.start()
    assert daemon.wait() == 2
    assert any("config.toml: server.port: must be an integer" in line for line in daemon.lines)


def test_serves_reloads_and_stops_cleanly(tmp_path: Path) -> None:
    path = write_business(tmp_path)
    daemon = DaemonProcess(path).start()
    try:
        event = {
            "id": "e-1",
            "type": "purchase.completed",
            "occurred_at": "2026-03-02T10:00:00Z",
            "customer": {"email": "ann@example.com"},
        }
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=daemon.url) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            assert client.post("/v1/events", json=event, headers=auth).status_code == 202

            good = path.read_text()
            path.write_text(good.replace("port = 0", 'port = "x"'))
            daemon.signal(signal.SIGHUP)
            daemon.wait_for(r"reload refused, the running config stays in force")
            assert client.get("/healthz").status_code == 200  # still serving the old config

            path.write_text(good.replace("Harbor Lane Renovations", "Harbor Lane & Sons"))
            daemon.signal(signal.SIGHUP)
            daemon.wait_for(r"config reloaded \(business: Harbor Lane & Sons\)")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        daemon.wait_for(r"stopped")
    finally:
        daemon.kill()


async def fill_outbox(config_path: Path, count: int) -> list[str]:
    """`count` test emails queued in batches of 500 (at once, for processes already running),
    due now; their Message-IDs."""
    store = await open_store(load_config(config_path, ENV))
    now = SystemClock().now()
    ids = [f"<crash-{i}@harborlane.example>" for i in range(count)]
    try:
        emails = [
            NewEmail(
                dedupe_key=f"crash-{i}",
                kind="test",
                recipient=f"c{i}@example.com",
                envelope_from="hello@harborlane.example",
                message_id=message_id,
                message=f"Message-ID: {message_id}\r\nSubject: {i}\r\n\r\nhello {i}\r\n".encode(),
                not_before=datetime(2026, 1, 1, tzinfo=UTC),
            )
            for i, message_id in enumerate(ids)
        ]
        for start in range(0, count, 500):
            await store.enqueue_many(emails[start : start + 500], now)
        return ids
    finally:
        await store.close()


async def outbox_counts(config_path: Path) -> dict[State, int]:
    store = await open_store(load_config(config_path, ENV))
    try:
        return await store.outbox_counts()
    finally:
        await store.close()


def test_kill_9_mid_send_loses_nothing(tmp_path: Path) -> None:
    emails, in_flight, kills = 3000, 32, 4
    with ThreadedSmtpServer() as sink:
        path = write_business(
            tmp_path,
            {
                "email": {
                    "transport": "smtp",
                    "smtp": {"host": sink.host, "port": sink.port, "security": "none"},
                },
                "sender": {"max_in_flight": in_flight},
            },
        )
        expected = asyncio.run(fill_outbox(path, emails))
        daemon = DaemonProcess(path)
        try:
            for round_ in range(1, kills + 1):
                daemon.start()
                target = round_ * emails // (kills + 2)
                sink.wait_for_messages(target, timeout=60)
                daemon.kill()  # SIGKILL: no chance to record or release anything
            daemon.start()
            missing, read = set(expected), 0

            def all_arrived() -> bool:  # distinct ids: duplicates must not count as progress
                nonlocal read
                arrived = sink.handler.messages[read:]
                read += len(arrived)
                missing.difference_update(m.message()["Message-ID"] for m in arrived)
                return not missing

            sink.wait_until(all_arrived, timeout=120)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.kill()
        received = [m.message()["Message-ID"] for m in sink.handler.messages]
    counts = collections.Counter(received)
    assert set(counts) == set(expected), "every email arrived"
    duplicates = sum(n - 1 for n in counts.values())
    print(f"{duplicates} duplicates after {kills} kills")
    assert duplicates <= kills * in_flight, f"{duplicates} duplicates after {kills} kills"
    assert asyncio.run(outbox_counts(path))[State.SENT] == emails
