"""`vouch backup` beside a busy daemon, and `vouch restore` (only with the daemon stopped)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_sender import enqueue, make_sender

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config
from daemon.errors import VouchError
from daemon.intake.events import EventIn
from daemon.mail.outbox import NewEmail, State
from daemon.store import Recorded, SQLiteStore
from daemon.store.backup import backup, restore
from daemon.transport import MemoryTransport

from helpers import ENV

ROWS = 1500


class Halfway(MemoryTransport):
    """Holds every send after the first `half` until `go_on` is set: the test copies the store
    at a known moment in the middle of a drain, however loaded the machine is."""

    def __init__(self, half: int) -> None:
        super().__init__(concurrency=8)
        self.half = half
        self.halfway = asyncio.Event()
        self.go_on = asyncio.Event()

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        if len(self.sent) >= self.half:
            self.halfway.set()
            await self.go_on.wait()
        return await super().send(envelope_from, recipient, message, key=key)


def checked(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal
    return db


@pytest.mark.sqlite_only("vouch backup copies the SQLite file (PostgreSQL has pg_dump)")
async def test_backup_while_the_sender_writes_then_restore_and_go_on(
    store: SQLiteStore, clock: FakeClock, config: Config, tmp_path: Path
) -> None:
    await enqueue(store, clock, ROWS)
    transport = Halfway(ROWS // 2)
    sender = make_sender(store, transport, clock, config)
    draining = asyncio.create_task(sender.drain())
    copies = [await backup(config.store_path, tmp_path / "copy-start.sqlite3")]
    await transport.halfway.wait()
    for _ in range(10_000):  # the sender records what it sent before the held sends
        if (await store.outbox_counts()).get(State.SENT, 0) == ROWS // 2:
            break
        await asyncio.sleep(0)
    copies.append(await backup(config.store_path, tmp_path / "copy-halfway.sqlite3"))
    transport.go_on.set()
    while not draining.done():
        copies.append(await backup(config.store_path, tmp_path / f"copy-{len(copies)}.sqlite3"))
        await asyncio.sleep(0)
    assert await draining == ROWS
    sent_seen = []
    for copy in copies:
        db = checked(copy.path)
        states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        assert sum(states.values()) == ROWS  # every row, in one state or another
        sent_seen.append(states.get("sent", 0))
        db.close()
    assert 0 < sent_seen[1] < ROWS  # a copy taken in the middle of the drain is consistent
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".partial")]

    final = await backup(config.store_path, tmp_path / "final.sqlite3")
    fresh = tmp_path / "elsewhere" / "vouch.sqlite3"
    restored = await restore(final.path, fresh)
    assert restored.schema_version == final.schema_version
    assert not fresh.with_name("vouch.sqlite3.before-restore").exists()  # nothing was there
    reopened = await SQLiteStore.open(fresh)
    try:
        assert (await reopened.outbox_counts())[State.SENT] == ROWS
        event = EventIn.model_validate(
            {
                "id": "after-restore",
                "type": "purchase.completed",
                "occurred_at": clock.now().isoformat(),
                "customer": {"email": "new@example.com"},
            }
        )
        assert (await reopened.record_event(event, clock.now())).recorded is Recorded.NEW
    finally:
        await reopened.close()


async def test_restore_refuses_a_store_in_use_and_keeps_the_old_one(
    clock: FakeClock, config: Config, tmp_path: Path
) -> None:
    store = await SQLiteStore.open(config.store_path)
    try:
        await enqueue(store, clock, 3)
        copy = await backup(config.store_path, tmp_path / "copy.sqlite3")
        with pytest.raises(VouchError, match="is in use"):
            await restore(copy.path, config.store_path)  # the "daemon" holds it open
        await enqueue_more(store, clock)
    finally:
        await store.close()
    await restore(copy.path, config.store_path)
    kept = config.store_path.with_name(config.store_path.name + ".before-restore")
    assert checked(kept).execute("SELECT count(*) FROM outbox").fetchone() == (4,)
    reopened = await SQLiteStore.open(config.store_path)
    try:
        assert sum((await reopened.outbox_counts()).values()) == 3
    finally:
        await reopened.close()


async def enqueue_more(store: SQLiteStore, clock: FakeClock) -> None:
    await store.enqueue(
        NewEmail(
            dedupe_key="extra",
            kind="test",
            recipient="x@example.com",
            envelope_from="hello@harborlane.example",
            message_id="<extra@harborlane.example>",
            message=b"Message-ID: <extra@harborlane.example>\r\n\r\nx\r\n",
            not_before=clock.now(),
        ),
        clock.now(),
    )


async def test_restore_refuses_what_is_not_a_store(config: Config, tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(VouchError, match=r"junk\.sqlite3"):
        await restore(junk, tmp_path / "store.sqlite3")
    with pytest.raises(VouchError, match="no backup at"):
        await restore(tmp_path / "missing", tmp_path / "store.sqlite3")


def test_cli_backup_and_restore(
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = make_config()
    args: list[Any] = ["--config", str(config.path)]
    assert main(["event", "purchase.completed", "--email", "ann@example.com", *args]) == 0
    target = tmp_path / "b.sqlite3"
    assert main(["backup", str(target), *args]) == 0
    assert "integrity ok" in capsys.readouterr().out
    assert main(["restore", str(target), *args]) == 0
    assert "before-restore" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "nope"), *args]) == 1
    assert "no backup at" in capsys.readouterr().err


def damage(store: Path, where: str) -> bytes:
    """Garbage over the store's file, where SQLite reads first: the 100-byte header, or the
    rest of page 1 (the schema's b-tree). The file's bytes after."""
    assert not store.with_name(store.name + "-wal").exists()  # all of it is in the file
    offset, length = {"header": (0, 100), "schema": (100, 3900)}[where]
    with store.open("r+b") as file:
        file.seek(offset)
        file.write((b"\xde\xad\xbe\xef" * length)[:length])
    return store.read_bytes()


@pytest.mark.slow  # the real daemon in a subprocess
@pytest.mark.parametrize(
    ("where", "reason"),
    [("header", "file is not a database"), ("schema", "database disk image is malformed")],
)
def test_a_damaged_store_is_said_in_one_line_and_vouch_restore_brings_it_back(
    where: str,
    reason: str,
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = make_config()
    store, args = config.store_path, ["--config", str(config.path)]
    assert main(["event", "purchase.completed", "--email", "ann@example.com", *args]) == 0
    copy = tmp_path / "copy.sqlite3"
    assert main(["backup", str(copy), *args]) == 0
    assert main(["event", "purchase.completed", "--email", "bo@example.com", *args]) == 0
    capsys.readouterr()
    damaged = damage(store, where)
    said = (
        f"error: the store {store} is damaged ({reason}); restore your latest backup with "
        f"`vouch restore BACKUP_FILE` (the damaged file is kept as {store.name}.before-restore)"
    )
    daemon = subprocess.run(
        [sys.executable, "-m", "daemon", "run", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=60,
    )
    assert (daemon.returncode, daemon.stderr.splitlines()) == (2, [said])
    for command in (
        ["report"],
        ["export", "customers"],
        ["event", "purchase.completed", "--email", "cy@example.com"],
        ["backup", str(tmp_path / "another.sqlite3")],
    ):
        assert main([*command, *args]) == 2, command
        assert capsys.readouterr().err.splitlines() == [said], command
    assert store.read_bytes() == damaged  # nothing written over it

    assert main(["restore", str(copy), *args]) == 0
    assert f"the old store is kept as {store}.before-restore" in capsys.readouterr().out
    assert store.with_name(store.name + ".before-restore").read_bytes() == damaged
    assert main(["export", "customers", *args]) == 0
    exported = capsys.readouterr().out
    assert "ann@example.com" in exported and "bo@example.com" not in exported  # as backed up


def test_damage_a_command_finds_past_the_start_is_said_in_one_line_too(
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The store opens (its header and schema are whole) but the customers table's top page is
    garbage: the command that reads it says so as at the start, not with its query's error."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = make_config()
    store, args = config.store_path, ["--config", str(config.path)]
    rows = tmp_path / "customers.csv"
    rows.write_text("email\n" + "".join(f"c{n}@example.com\n" for n in range(400)))
    assert main(["import", "customers", str(rows), *args]) == 0
    with sqlite3.connect(store) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'customers'"
        ).fetchone()
    db.close()
    with store.open("r+b") as file:
        file.seek((root - 1) * page)
        file.write(b"\xde\xad\xbe\xef" * (page // 4))
    capsys.readouterr()
    said = f"error: the store {store} is damaged (database disk image is malformed); restore"
    for command in (
        ["export", "customers"],
        ["event", "purchase.completed", "--email", "c7@example.com"],
    ):
        assert main([*command, *args]) == 2, command
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(said), command
