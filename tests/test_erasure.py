"""Forgetting touches exactly one person: the argument must be an address, rows are found by the
customer's id and exact address columns (never by searching text), event ids are kept as keyed
hashes so a replay after erasure is still a replay, and forgetting twice is harmless."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from loop import AUTH, Loop, running, smtp_changes
from test_privacy import held_bytes, history
from test_referrals import ANN, introduce, promoter_with_ask, referral_id, status
from test_webhooks import ENV_HOOKS, hook

from daemon.cli import main
from daemon.config import Config, load_config

from helpers import ENV, columns, query, tables, write_business
from http_receiver import Receiver
from smtp_server import SmtpServer

# Addresses that contain Ann's, are contained in it, or differ from it by a letter.
NEAR_MISSES = [
    "joann@example.com",  # a longer local part ending in hers
    "leeann@example.com",
    "ann@example.com.evil.org",  # another domain that contains hers
    "ann@example.co",  # a prefix of hers
]
NOT_ADDRESSES = ["1001", "0", "%", " ", "ann", "ann@", "@example.com", "ann example.com"]


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer) -> Config:
    referrals = {"materials": [{"file": "materials/harbor-lane.vcf"}]}
    return make_config({**smtp_changes(smtp_server), "referrals": referrals})


async def near_misses(loop: Loop) -> None:
    """Each near miss: a purchase (its event id holds the address), an answer with a comment,
    a reply; and, once the daemon has run, the survey email to them (its bytes stored)."""
    for n, address in enumerate(NEAR_MISSES):
        await loop.event(
            "purchase.completed", address, "2026-02-20T10:00:00Z", name=f"Near Miss {n}"
        )
        answer = await loop.client.post(
            "/v1/responses",
            json={
                "id": f"answer-{address}",
                "customer": {"email": address},
                "survey": "post_purchase",
                "score": 4,
                "comment": f"a comment by {address}",
                "answered_at": "2026-03-02T09:00:00Z",
            },
            headers=AUTH,
        )
        assert answer.status_code == 202, answer.text
        reply = await loop.client.post(
            "/v1/inbound",
            json={"from": address, "to": "hello@harborlane.example", "text": f"hi from {n}"},
            headers=AUTH,
        )
        assert reply.status_code == 202, reply.text


def table_rows(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read on a connection of the test's (what is committed)."""
    return {t: sorted(query(store, f"SELECT * FROM {t}"), key=repr) for t in tables(store)}


def rows_of(store: Any, address: str) -> dict[str, list[tuple[Any, ...]]]:
    """A person's rows, all columns (the bytes of their emails too): the customer, each row that
    names their customer id, and each row that holds their address in an address column."""
    found = query(store, "SELECT id FROM customers WHERE email = ?", (address,))
    assert found, address
    rows: dict[str, list[tuple[Any, ...]]] = {
        "customers": query(store, "SELECT * FROM customers WHERE id = ?", found[0])
    }
    for table in tables(store):
        if "customer_id" in columns(store, table):
            rows[table] = sorted(
                query(store, f"SELECT * FROM {table} WHERE customer_id = ?", found[0]), key=repr
            )
    for table, column in (
        ("outbox", "recipient"),
        ("replies", "from_addr"),
        ("suppressions", "email"),
        ("bounces", "email"),
    ):
        rows[f"{table}.{column}"] = sorted(
            query(store, f"SELECT * FROM {table} WHERE lower({column}) = ?", (address,)), key=repr
        )
    return rows


async def test_forgetting_ann_leaves_every_near_miss_intact(loop: Loop) -> None:
    await near_misses(loop)
    await history(loop)  # Ann's: a purchase, an answer, a referral, a testimonial, a reply
    store = loop.services.store
    before = {address: rows_of(store, address) for address in NEAR_MISSES}
    for address in NEAR_MISSES:
        emails = before[address]["outbox"]
        assert any(row[7] for row in emails), f"no stored email bytes for {address}"
        assert before[address]["events"] and before[address]["replies.from_addr"]

    done = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert done.status_code == 200, done.text
    assert done.json()["changed"]["customer"] == 1
    assert await loop.services.store.customer_by_email(ANN) is None

    for address in NEAR_MISSES:
        assert rows_of(store, address) == before[address], address


@pytest.mark.parametrize("spelled", ["Ann@Example.COM", "ANN@EXAMPLE.COM"])
async def test_the_same_address_in_another_case_is_forgotten(loop: Loop, spelled: str) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    done = await loop.client.delete(f"/v1/customers/{spelled}", headers=AUTH)
    assert done.status_code == 200, done.text
    assert done.json()["changed"]["customer"] == 1
    assert await loop.services.store.customer_by_email(ANN) is None


@pytest.mark.parametrize("argument", NOT_ADDRESSES)
async def test_http_forget_of_a_non_address_is_refused_and_changes_nothing(
    loop: Loop, argument: str
) -> None:
    await near_misses(loop)
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await loop.run()
    store = loop.services.store
    before = table_rows(store)
    answer = await loop.client.delete(f"/v1/customers/{quote(argument, safe='')}", headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["field"] == "email"
    assert "not an email address" in answer.json()["detail"]
    assert table_rows(store) == before


async def test_http_forget_with_an_empty_address_changes_nothing(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    store = loop.services.store
    before = table_rows(store)
    answer = await loop.client.delete("/v1/customers/", headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["field"] == "email"
    assert "not an email address" in answer.json()["detail"]
    assert table_rows(store) == before


def cli(config_path: Path, *args: str) -> int:
    return main([*args, "--config", str(config_path)])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("argument", ["", *NOT_ADDRESSES])
def test_cli_forget_of_a_non_address_exits_2_and_changes_nothing(
    make_config: Any, env: None, capsys: pytest.CaptureFixture[str], argument: str
) -> None:
    config = make_config()
    for address in [ANN, *NEAR_MISSES]:
        assert cli(config.path, "event", "purchase.completed", "--email", address) == 0
    before = table_rows(config.store_path)
    capsys.readouterr()
    assert cli(config.path, "forget", argument) == 2
    assert "not an email address" in capsys.readouterr().err
    assert table_rows(config.store_path) == before


def test_cli_forget_touches_no_near_miss_and_twice_is_harmless(
    make_config: Any, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config()
    for address in [ANN, *NEAR_MISSES]:
        assert cli(config.path, "event", "purchase.completed", "--email", address) == 0
    before = {address: rows_of(config.store_path, address) for address in NEAR_MISSES}
    capsys.readouterr()
    assert cli(config.path, "forget", ANN) == 0
    assert f"forgotten {ANN}" in capsys.readouterr().out
    assert cli(config.path, "forget", ANN) == 0
    assert "nothing held" in capsys.readouterr().out
    for address in NEAR_MISSES:
        assert rows_of(config.store_path, address) == before[address], address


async def test_a_replay_after_erasure_is_still_a_replay(loop: Loop) -> None:
    event = {
        "id": f"order-17-{ANN}",
        "type": "purchase.completed",
        "occurred_at": "2026-02-20T10:00:00Z",
        "customer": {"email": ANN, "name": "Ann Example"},
        "data": {"total": 1200},
    }
    first = await loop.client.post("/v1/events", json=event, headers=AUTH)
    assert first.status_code == 202, first.text
    replay = await loop.client.post("/v1/events", json=event, headers=AUTH)
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    answer: dict[str, Any] = {"id": f"answer-{ANN}", "customer": {"email": ANN}}
    answer |= {"survey": "post_purchase"}
    answer |= {"score": 9, "answered_at": "2026-03-02T09:00:00Z"}
    assert (await loop.client.post("/v1/responses", json=answer, headers=AUTH)).status_code == 202
    await loop.run()
    store = loop.services.store
    counts = await store.event_counts()

    done = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert done.status_code == 200, done.text
    after = await loop.client.post("/v1/events", json=event, headers=AUTH)
    assert after.status_code == 202, after.text
    assert after.headers.get("Idempotent-Replayed") == "true"
    assert after.json() == replay.json()
    assert await store.event_counts() == counts  # not recorded again
    assert await store.customer_by_email(ANN) is None  # nor Ann made again
    again = await loop.client.post("/v1/responses", json=answer, headers=AUTH)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    assert await store.customer_by_email(ANN) is None
    changed = {**event, "data": {"total": 1300}}  # the id reused for another event: a conflict
    assert (await loop.client.post("/v1/events", json=changed, headers=AUTH)).status_code == 409
    assert ANN.encode() not in held_bytes(store)


async def test_event_ids_of_others_are_never_rewritten(loop: Loop) -> None:
    await near_misses(loop)
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await loop.run()
    store = loop.services.store
    ids = {r[1] for r in table_rows(store)["events"]}
    assert (await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)).status_code == 200
    kept = {r[1] for r in table_rows(store)["events"]}
    assert ids - kept == {f"purchase.completed-{ANN}-2026-02-20T10:00:00Z"}
    assert len(kept) == len(ids)
    for address in NEAR_MISSES:  # their replays are replays, as before
        replay = await loop.event(
            "purchase.completed",
            address,
            "2026-02-20T10:00:00Z",
            name=f"Near Miss {NEAR_MISSES.index(address)}",
        )
        assert replay.headers.get("Idempotent-Replayed") == "true"


async def test_forgetting_twice_answers_404_never_500(loop: Loop) -> None:
    await near_misses(loop)
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await loop.run()
    first = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert first.status_code == 200, first.text
    store = loop.services.store
    before = table_rows(store)
    for _ in range(2):
        again = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
        assert again.status_code == 404, again.text
        assert "nothing held" in again.json()["error"]
    assert table_rows(store) == before
    assert await loop.services.store.suppression_reason(ANN) == "forgotten"
    # an address never known: nothing held (404), and it is never emailed either
    never = await loop.client.delete("/v1/customers/never@example.org", headers=AUTH)
    assert never.status_code == 404, never.text
    assert await loop.services.store.suppression_reason("never@example.org") == "forgotten"


async def test_concurrent_forgets_of_one_person(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    answers = await asyncio.gather(
        *(loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH) for _ in range(3))
    )
    assert sorted(a.status_code for a in answers) == [200, 404, 404]


async def test_the_owners_digest_that_listed_her_is_erased_and_no_other(
    make_config: Any,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """The digest names a complaint by the customer's name (not the address): it is found by
    Ann's complaint and the digest's period, and a digest that did not list her keeps its bytes."""
    config = make_config({**smtp_changes(smtp_server), "digest": {"every": "daily", "at": "08:00"}})
    async with running(config, smtp_server, store_url) as loop:  # Monday 2 March, 09:00 GMT
        await loop.travel(timedelta(days=1))  # Tuesday 08:00: the quiet digest of Monday
        for address, name, value in ((ANN, "Ann Example", 3), (NEAR_MISSES[0], "Jo Ann", 2)):
            await loop.event("purchase.completed", address, "2026-02-24T10:00:00Z", name=name)
            body = {"customer": {"email": address}, "survey": "post_purchase", "score": value}
            assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).is_success
        await loop.travel(timedelta(days=1))  # Wednesday's digest lists both complaints
        store = loop.services.store

        def digests() -> dict[str, bytes]:
            rows = query(
                store, "SELECT dedupe_key, message FROM outbox WHERE kind = ?", ("owner_digest",)
            )
            return {str(k): bytes(m) for k, m in rows}

        before = digests()
        quiet, listed = sorted(before)
        assert b"Ann Example" in before[listed] and b"Ann Example" not in before[quiet]
        joann = rows_of(store, NEAR_MISSES[0])

        assert (await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)).status_code == 200
        after = digests()
        assert after[listed] == b"" and after[quiet] == before[quiet]
        assert rows_of(store, NEAR_MISSES[0]) == joann


def test_cli_forget_without_the_daemons_secret_exits_2(
    make_config: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config()
    monkeypatch.setenv("VOUCH_API_TOKEN", ENV["VOUCH_API_TOKEN"])
    monkeypatch.delenv("VOUCH_SECRET_KEY", raising=False)
    assert cli(config.path, "event", "purchase.completed", "--email", ANN) == 0
    before = table_rows(config.store_path)
    assert cli(config.path, "forget", ANN) == 2
    assert "VOUCH_SECRET_KEY" in capsys.readouterr().err
    assert table_rows(config.store_path) == before


async def test_forgetting_the_friend_erases_the_webhook_bodies_of_her_referral_only(
    tmp_path: Path,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """Webhook deliveries are found by the dedupe keys Vouch made for the friend's referral's
    facts; a delivery about someone whose address contains hers keeps its bytes."""
    dee, hidee = "dee@example.com", "hidee@example.com"
    with Receiver() as crm:
        changes = {
            **smtp_changes(smtp_server),
            "webhooks": [hook(crm.url + "/all")],
            "referrals": {"materials": [{"file": "materials/brochure.pdf"}]},
        }
        config = load_config(
            write_business(tmp_path / "biz", changes), ENV_HOOKS, need_secrets=True
        )
        async with running(config, smtp_server, store_url) as loop:
            code = await promoter_with_ask(loop)
            form = {"friend_name": "Dee Friend", "friend_email": dee, "need": "Bathroom"}
            await introduce(loop, code, **form, timing="soon", expects_contact="yes")
            await loop.event("purchase.completed", hidee, "2026-02-24T10:00:00Z", name="Hi Dee")
            body = {"customer": {"email": hidee}, "survey": "post_purchase", "score": 9}
            assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).is_success
            await loop.run()
            rid = await referral_id(loop)
            assert (await status(loop, rid, status="contacted")).status_code == 200
            await loop.run()

            def bodies() -> dict[str, bytes]:
                sql = "SELECT dedupe_key, message FROM outbox WHERE kind = 'webhook'"
                rows = query(loop.services.store, sql)
                return {str(k).rsplit("/all:", 1)[1]: bytes(m) for k, m in rows}

            before = bodies()
            about_dee = {k for k in before if k.startswith(("referral.", "reward."))}
            assert len(about_dee) == 2 and all(
                dee.encode() in before[k] or b"Dee" in before[k] for k in about_dee
            )
            assert any(hidee.encode() in m for m in before.values())
            done = await loop.client.delete(f"/v1/customers/{dee}", headers=AUTH)
            assert done.status_code == 200, done.text
            after = bodies()
            assert {k for k, m in after.items() if m != before[k]} == about_dee
            assert all(after[k] == b"" for k in about_dee)
