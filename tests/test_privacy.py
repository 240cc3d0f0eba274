"""Forgetting a person: their data leaves the SQLite file (and its log), the figures stay true;
exporting everything held about a person."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop, smtp_changes
from test_referrals import ANN, codes, get_ask, introduce, score

from daemon.cli import main
from daemon.config import Config
from daemon.store import SQLiteStore
from daemon.store.pgdb import PGDB

from helpers import ENV, columns, query, tables
from smtp_server import SmtpServer

BOB = "bob@example.com"
SECRETS = [
    ANN,
    "Ann Example",
    "ANN-EXT-77",
    "my own secret comment",
    "Dee Friend",
    "+44 7700 900123",
    "a bathroom in the attic",
    "the crew was wonderful, Ann",
    "reply from ann about the invoice",
]


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer) -> Config:
    referrals = {"materials": [{"file": "materials/harbor-lane.vcf"}]}  # the ask: multipart
    return make_config({**smtp_changes(smtp_server), "referrals": referrals})


async def history(loop: Loop) -> None:
    """Ann: a purchase, a 10 with a comment, a project, the ask, a friend introduced, an
    unsolicited testimonial, a reply. Bob: a detractor (so the figures have two people)."""
    await loop.event(
        "purchase.completed",
        ANN,
        "2026-02-20T10:00:00Z",
        name="Ann Example",
        external_id="ANN-EXT-77",
        tags=["attic"],
    )
    await loop.event("purchase.completed", BOB, "2026-02-20T10:00:00Z", name="Bob Other")
    answer = await loop.client.post(
        "/v1/responses",
        json={
            "customer": {"email": ANN},
            "survey": "post_purchase",
            "score": 10,
            "comment": "my own secret comment",
            "answered_at": "2026-03-02T09:00:00Z",
        },
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text
    await score(loop, BOB, 3)
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z", name="Ann Example")
    code = codes(await get_ask(loop))
    introduced = await introduce(
        loop,
        code,
        friend_name="Dee Friend",
        friend_email="dee@example.com",
        friend_phone="+44 7700 900123",
        need="a bathroom in the attic",
        timing="soon",
        relationship="neighbour",
        expects_contact="yes",
    )
    assert introduced.status_code == 200
    praise = await loop.client.post(
        "/v1/events",
        json={
            "id": "praise-1",
            "type": "testimonial.received",
            "occurred_at": "2026-03-02T09:30:00Z",
            "customer": {"email": ANN},
            "data": {"text": "the crew was wonderful, Ann", "source": "email", "solicited": False},
        },
        headers=AUTH,
    )
    assert praise.status_code == 202, praise.text
    reply = await loop.client.post(
        "/v1/inbound",
        json={
            "from": ANN,
            "to": "hello@harborlane.example",
            "subject": "About the bill",
            "text": "reply from ann about the invoice",
        },
        headers=AUTH,
    )
    assert reply.status_code == 202, reply.text
    await loop.run()


def held_bytes(store: Any) -> bytes:
    """What the store holds, as bytes: the SQLite file and its write-ahead log; on PostgreSQL
    every live row (its old row versions stay in pages until vacuum: PrivacyPG)."""
    if isinstance(store, PGDB):
        rows = [query(store, f"SELECT * FROM {t}") for t in tables(store)]
        return repr(rows).encode().lower()
    return file_bytes(store.path)


def file_bytes(path: Path) -> bytes:
    found = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        found += wal.read_bytes()
    return found.lower()


async def test_forget_erases_the_person_and_keeps_the_figures(loop: Loop) -> None:
    await history(loop)
    store = loop.services.store
    before = (await loop.client.get("/v1/reports/nps", headers=AUTH)).json()
    referrals_before = (await loop.client.get("/v1/referrals", headers=AUTH)).json()
    exported = await store.person_export(ANN)
    assert exported["customer"]["name"] == "Ann Example"
    assert [r["score"] for r in exported["responses"]] == [10]
    assert exported["responses"][0]["comment"] == "my own secret comment"
    assert exported["referrals_made"][0]["friend_email"] == "dee@example.com"
    assert exported["testimonials"][0]["text"] == "the crew was wonderful, Ann"
    assert exported["replies"][0]["text"] == "reply from ann about the invoice"
    assert {e["kind"] for e in exported["emails"]} >= {"referral_ask"}  # her answer came first
    assert all("message" not in e for e in exported["emails"])
    assert json.loads(json.dumps(exported)) == exported  # plain JSON
    assert (await store.person_export("dee@example.com"))["referred_by"][0]["advocate_name"] == (
        "Ann Example"
    )
    await store.checkpoint()
    assert all(secret.lower().encode() in held_bytes(store) for secret in SECRETS)

    done = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["wal_truncated"] is not isinstance(store, PGDB)  # PostgreSQL: vacuum's part
    assert result["changed"]["customer"] == 1 and result["changed"]["emails"] >= 3

    data = held_bytes(store)
    left = [secret for secret in SECRETS if secret.lower().encode() in data]
    assert left == [], where_found(store, ANN) + where_found(store, "dee@example.com")
    assert BOB.encode() in data  # nobody else is touched
    dee = await store.customer_by_email("dee@example.com")  # the friend stays a customer...
    assert dee is not None
    made = await store.person_export("dee@example.com")
    assert made["referred_by"][0]["friend_email"] is None  # ...but not as Ann's friend
    assert made["referred_by"][0]["advocate_name"] is None
    now = (await loop.client.get("/v1/reports/nps", headers=AUTH)).json()
    assert now["overall"] == before["overall"] and now["surveys"] == before["surveys"]
    assert {k: v for k, v in now.items() if k != "tags"} == {
        k: v for k, v in before.items() if k != "tags"
    }
    assert "attic" in before["tags"] and now["tags"] == {}  # tags go with the person
    after = (await loop.client.get("/v1/referrals", headers=AUTH)).json()
    assert after["advocates"][0]["referrals"] == referrals_before["advocates"][0]["referrals"]
    assert await store.customer_by_email(ANN) is None
    assert await store.suppression_reason(ANN) == "forgotten"  # found by its hash
    gone = await store.person_export(ANN)
    assert gone["customer"] is None and gone["suppression"][0]["email"].startswith("sha256:")

    # Ann comes back through the shop: recorded, but never emailed again
    loop.new_mail()
    await loop.event("purchase.completed", ANN, "2026-03-04T10:00:00Z", name="Ann Example")
    await loop.travel(timedelta(days=10))
    assert [m for m in loop.new_mail() if ANN in str(m["To"])] == []
    # forgetting again is harmless
    assert (await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)).status_code == 200


async def test_forget_needs_the_token(loop: Loop) -> None:
    assert (await loop.client.delete(f"/v1/customers/{ANN}")).status_code == 401


def test_cli_export_person_and_forget(
    make_config: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = make_config()
    args = ["--config", str(config.path)]
    ann = ["--email", ANN, "--name", "Ann Example"]
    assert main(["event", "purchase.completed", *ann, *args]) == 0
    capsys.readouterr()
    assert main(["export-person", ANN, *args]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["customer"]["name"] == "Ann Example"
    assert [e["type"] for e in exported["events"]] == ["purchase.completed"]
    assert main(["forget", ANN, *args]) == 0
    out = capsys.readouterr().out
    assert f"forgotten {ANN}" in out and "SHA-256" in out
    assert main(["export-person", ANN, *args]) == 0
    assert json.loads(capsys.readouterr().out)["customer"] is None

    async def count() -> int:
        store = await SQLiteStore.open(config.store_path)
        try:
            return sum((await store.event_counts()).values())
        finally:
            await store.close()

    assert asyncio.run(count()) == 1  # the event stays, anonymous
    assert ANN.encode() not in file_bytes(config.store_path)


def test_export_person_writes_times_in_the_business_time_zone(
    make_config: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = make_config({"business": {"timezone": "America/Chicago"}})
    args = ["--config", str(config.path)]
    when = ["--occurred-at", "2026-03-02T15:00:00Z"]
    assert main(["event", "purchase.completed", "--email", ANN, *when, *args]) == 0
    capsys.readouterr()
    assert main(["export-person", ANN, *args]) == 0
    (event,) = json.loads(capsys.readouterr().out)["events"]
    assert event["occurred_at"] == "2026-03-02T09:00:00-06:00"  # 15:00 UTC, in Chicago
    assert event["payload"]["occurred_at"] == "2026-03-02T15:00:00Z"  # as it was received


def where_found(store: Any, needle: str) -> list[str]:
    found = []
    for table in tables(store):
        cols = columns(store, table)
        for row in query(store, f"SELECT * FROM {table}"):
            for col, value in zip(cols, row, strict=True):
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                if needle in text.lower():
                    found.append(f"{table}.{col}: {text[:200]}")
    return found
