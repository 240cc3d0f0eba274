"""Outbound webhooks end to end: facts recorded through the real app, swept into the outbox by
the scheduler, POSTed by the sender over real HTTP to a receiver on loopback, signed as the
README says (and verified here with the README's recipe), retried and failed like email."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop, running, smtp_changes
from test_referrals import introduce, promoter_with_ask, referral_id, status

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError
from daemon.mail.outbox import WEBHOOK
from daemon.store import SQLiteStore
from daemon.store import sqlite as sqlite_store
from daemon.store.migrations import MIGRATIONS
from daemon.store.rows import Answer
from daemon.store.webhooks import FACT_QUERIES
from daemon.transport.webhook import WebhookTransport

from helpers import ENV, query, write_business
from http_receiver import STALL, Receiver
from smtp_server import SmtpServer

SECRET = "whsec-test-0123456789abcdef"
ENV_HOOKS = {**ENV, "VOUCH_WEBHOOK_SECRET": SECRET}
ANN = "ann@example.com"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = 300) -> bool:
    """The README's recipe, word for word."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp, expected = parts["t"], parts["v1"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), expected) and abs(now - int(timestamp)) <= tolerance


def stamp(header: str) -> int:
    return int(header.split(",")[0].removeprefix("t="))


@pytest.fixture
def receiver() -> Any:
    with Receiver() as running_receiver:
        yield running_receiver


@pytest.fixture
def hooks_config(tmp_path: Path, smtp_server: SmtpServer) -> Callable[..., Config]:
    def make(*hooks: dict[str, Any], **changes: Any) -> Config:
        settings = {**smtp_changes(smtp_server), "webhooks": list(hooks), **changes}
        return load_config(write_business(tmp_path / "biz", settings), ENV_HOOKS, need_secrets=True)

    return make


def hook(url: str, *events: str, **extra: Any) -> dict[str, Any]:
    every = [
        "response.recorded",
        "complaint.opened",
        "referral.created",
        "referral.status_changed",
        "reward.issued",
    ]
    return {
        "url": url,
        "events": list(events) or every,
        "secret_env": "VOUCH_WEBHOOK_SECRET",
        **extra,
    }


@pytest.fixture
def loop_config(hooks_config: Callable[..., Config], receiver: Receiver) -> Config:
    return hooks_config(hook(receiver.url + "/vouch"))


async def answer(loop: Loop, email: str, score: int, comment: str | None = None) -> None:
    body = {"customer": {"email": email}, "survey": "post_purchase", "score": score}
    if comment:
        body["comment"] = comment
    reply = await loop.client.post("/v1/responses", json=body, headers=AUTH)
    assert reply.status_code == 202, reply.text


def documents(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.requests]


async def webhook_rows(loop: Loop) -> list[tuple[str, str, str | None, int]]:
    store = loop.services.store
    rows = query(
        store,
        "SELECT recipient, state, last_error, attempts FROM outbox WHERE kind = ? ORDER BY id",
        (WEBHOOK,),
    )
    return [(str(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]


async def test_delivered_once_signed_as_documented(loop: Loop, receiver: Receiver) -> None:
    await answer(loop, ANN, 10, "Lovely work")
    await loop.run()
    (request,) = receiver.requests
    assert request.path == "/vouch"
    assert request.headers["Content-Type"] == "application/json"
    now = loop.clock.now().timestamp()
    assert verify(SECRET, request.headers["Vouch-Signature"], request.body, now)
    document = json.loads(request.body)
    assert document["type"] == "response.recorded"
    assert request.headers["Vouch-Event-Id"] == document["id"]
    assert document["occurred_at"] == "2026-03-02T09:00:00Z"
    assert document["data"] == {
        "customer": {"email": ANN, "name": None},
        "survey": "post_purchase",
        "score": 10,
        "segment": "promoter",
        "comment": "Lovely work",
        "source": "webhook",
    }
    # The sweep and the sender run on and on: nothing is delivered twice.
    await loop.run()
    await loop.travel(timedelta(days=2))
    assert len(receiver.requests) == 1
    assert await webhook_rows(loop) == [(receiver.url + "/vouch", "sent", None, 1)]


async def test_tampered_body_or_wrong_secret_does_not_verify(
    loop: Loop, receiver: Receiver
) -> None:
    await answer(loop, ANN, 9)
    await loop.run()
    (request,) = receiver.requests
    header, now = request.headers["Vouch-Signature"], loop.clock.now().timestamp()
    assert verify(SECRET, header, request.body, now)
    tampered = request.body.replace(b'"score":9', b'"score":0')
    assert tampered != request.body
    assert not verify(SECRET, header, tampered, now)
    assert not verify("another-secret-0123456789", header, request.body, now)
    assert not verify(SECRET, header, request.body, now + 301)  # too old: a replay


async def test_detractor_reports_the_response_and_the_complaint(
    loop: Loop, receiver: Receiver
) -> None:
    await answer(loop, ANN, 3, "Mess left behind")
    await loop.run()
    by_type = {d["type"]: d for d in documents(receiver)}
    assert sorted(by_type) == ["complaint.opened", "response.recorded"]
    complaint = by_type["complaint.opened"]["data"]
    assert complaint["score"] == 3 and complaint["comment"] == "Mess left behind"
    assert complaint["customer"]["email"] == ANN
    assert isinstance(complaint["complaint_id"], int)


async def test_500_then_200_is_delivered_once_after_a_retry(loop: Loop, receiver: Receiver) -> None:
    receiver.answer(500)
    await answer(loop, ANN, 10)
    await loop.run()
    assert len(receiver.requests) == 1
    ((_, state, error, attempts),) = await webhook_rows(loop)
    assert (state, error, attempts) == ("queued", "HTTP 500: refused with 500", 1)
    await loop.run()  # not yet due: the backoff holds it
    assert len(receiver.requests) == 1
    await loop.travel(timedelta(minutes=10), step=timedelta(minutes=1))
    first, second = receiver.requests
    assert first.body == second.body  # the same bytes, signed afresh
    signed = second.headers["Vouch-Signature"]
    assert stamp(signed) > stamp(first.headers["Vouch-Signature"])  # at the retry's time
    assert verify(SECRET, signed, second.body, stamp(signed))
    assert (await webhook_rows(loop))[0][1:] == ("sent", None, 2)
    await loop.travel(timedelta(days=1))
    assert len(receiver.requests) == 2


async def test_408_and_429_are_retried_400_fails_with_the_answer(
    loop: Loop, receiver: Receiver
) -> None:
    receiver.answer(429, 408)
    await answer(loop, ANN, 10)
    await loop.run()
    await loop.travel(timedelta(hours=1), step=timedelta(minutes=5))
    assert len(receiver.requests) == 3
    assert (await webhook_rows(loop))[0][1] == "sent"
    receiver.answer(400)
    await answer(loop, "bo@example.com", 8)
    await loop.run()
    url = receiver.url + "/vouch"
    assert (await webhook_rows(loop))[1] == (url, "failed", "HTTP 400: refused with 400", 1)
    assert await loop.services.store.suppression_reason(url) is None  # a URL is not an address
    await loop.travel(timedelta(days=1))
    assert len(receiver.requests) == 4  # never tried again


async def test_each_endpoint_gets_the_events_it_asked_for(
    hooks_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    with Receiver() as crm, Receiver() as chat:
        config = hooks_config(
            hook(crm.url + "/all"),
            hook(chat.url + "/referrals", "referral.created", "reward.issued"),
            referrals={"materials": [{"file": "materials/brochure.pdf"}]},  # the ask is found
        )
        async with running(config, smtp_server, store_url) as loop:
            code = await promoter_with_ask(loop)
            await introduce(
                loop, code, friend_name="Dee Friend", friend_email="dee@example.com",
                need="Bathroom", timing="before summer", expects_contact="yes",
            )  # fmt: skip
            await loop.run()
            rid = await referral_id(loop)
            assert (await status(loop, rid, status="contacted")).status_code == 200
            assert (await status(loop, rid, status="won", value=9000)).status_code == 200
            await loop.run()
        # Sent concurrently, so not necessarily in order: the ids say which is which.
        got = {d["id"]: d for d in documents(crm)}
        assert sorted(d["type"] for d in got.values()) == [
            "referral.created",
            "referral.status_changed",
            "referral.status_changed",
            "response.recorded",
            "reward.issued",
        ]
        assert len(got) == 5
        steps = sorted(
            (d for d in got.values() if d["type"] == "referral.status_changed"),
            key=lambda d: int(d["id"].rsplit(":", 1)[1]),
        )
        ((created,), (contacted, won), (reward,)) = (
            [d for d in got.values() if d["type"] == "referral.created"],
            steps,
            [d for d in got.values() if d["type"] == "reward.issued"],
        )
        assert created["data"]["referral"] == rid and created["data"]["timing"] == "before summer"
        assert created["data"]["friend"]["email"] == "dee@example.com"
        assert created["data"]["advocate"]["email"] == ANN
        assert (contacted["data"]["previous_status"], contacted["data"]["status"]) == (
            "new",
            "contacted",
        )
        assert (won["data"]["previous_status"], won["data"]["status"]) == ("contacted", "won")
        assert won["data"]["value"] == 9000
        assert reward["data"]["code"].startswith("THANKS-")
        assert sorted(d["id"] for d in documents(chat)) == sorted([created["id"], reward["id"]])


async def test_not_configured_no_rows_and_later_only_what_is_new(
    hooks_config: Callable[..., Config],
    smtp_server: SmtpServer,
    receiver: Receiver,
    store_url: str | None,
) -> None:
    async with running(hooks_config(), smtp_server, store_url) as loop:
        await answer(loop, ANN, 2, "Never again")
        await loop.run()
        assert await webhook_rows(loop) == []
        assert len(loop.new_mail()) == 2  # the owner alert and "we hear you": email as ever
        # The owner adds an endpoint (a reload): what was already reported stays history.
        loop.services.config = hooks_config(hook(receiver.url + "/vouch"))
        await loop.run()
        assert receiver.requests == []
        await answer(loop, "bo@example.com", 10)
        await loop.run()
        assert [d["type"] for d in documents(receiver)] == ["response.recorded"]
        assert documents(receiver)[0]["data"]["customer"]["email"] == "bo@example.com"


async def test_connection_refused_and_timeout_are_retried(
    hooks_config: Callable[..., Config],
    smtp_server: SmtpServer,
    receiver: Receiver,
    store_url: str | None,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/gone"
    slow = receiver.url + "/slow"
    receiver.answer(STALL)
    config = hooks_config(
        hook(closed, "response.recorded"), hook(slow, "response.recorded", timeout_seconds=0.2)
    )
    async with running(config, smtp_server, store_url) as loop:
        await answer(loop, ANN, 10)
        await loop.run()
        rows = {url: (state, error) for url, state, error, _ in await webhook_rows(loop)}
        assert rows[closed][0] == "queued" and "ConnectError" in str(rows[closed][1])
        assert rows[slow] == ("queued", "no answer within 0.2 s")


async def test_an_endpoint_removed_from_config_is_not_posted_to(
    hooks_config: Callable[..., Config],
    smtp_server: SmtpServer,
    receiver: Receiver,
    store_url: str | None,
) -> None:
    receiver.answer(503)
    async with running(hooks_config(hook(receiver.url + "/old")), smtp_server, store_url) as loop:
        await answer(loop, ANN, 10)
        await loop.run()
        loop.services.config = hooks_config()  # the owner removed it before the retry
        await loop.travel(timedelta(hours=2))
        assert len(receiver.requests) == 1
        ((_, state, error, _),) = await webhook_rows(loop)
        assert state == "failed" and "no longer a configured webhook" in str(error)


async def test_transport_classifies_answers(
    receiver: Receiver, hooks_config: Any, clock: FakeClock
) -> None:
    config = hooks_config(hook(receiver.url + "/t"))
    transport = WebhookTransport(lambda: config, clock)
    try:
        receiver.answer(503, 301, 201)
        with pytest.raises(TemporaryDeliveryError) as retry:
            await transport.send("", receiver.url + "/t", b"{}", key="k")
        assert retry.value.code == 503
        with pytest.raises(PermanentDeliveryError) as failed:  # a redirect is not followed
            await transport.send("", receiver.url + "/t", b"{}", key="k")
        assert str(failed.value) == "HTTP 301: refused with 301"
        assert await transport.send("", receiver.url + "/t", b"{}", key="k") == "HTTP 201: ok"
        header = receiver.requests[-1].headers["Vouch-Signature"]
        assert header.startswith(f"t={int(clock.now().timestamp())},v1=")
        assert verify(SECRET, header, b"{}", clock.now().timestamp())
    finally:
        await transport.aclose()


def test_config_names_the_webhook_key(tmp_path: Path) -> None:
    bad = {
        "webhooks": [
            {"url": "https://a.example/h", "events": ["response.recorded", "order.paid"],
             "secret_env": "VOUCH_WEBHOOK_SECRET"},
            {"url": "https://a.example/h", "events": ["reward.issued"],
             "secret_env": "VOUCH_WEBHOOK_SECRET"},
            {"url": "ftp://b.example", "events": [], "secret_env": "NOT SET"},
        ]
    }  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(tmp_path / "biz", bad), ENV_HOOKS, need_secrets=True)
    text = str(caught.value)
    assert (
        "config.toml: webhooks.0.events.1: Input should be 'response.recorded', "
        "'complaint.opened', 'referral.created', 'referral.status_changed' or 'reward.issued', "
        'got "order.paid"'
    ) in text
    assert "webhooks.2.url: must be the endpoint's http(s) URL" in text
    assert "webhooks.2.events: must be a list of one or more events, from: " in text
    assert "webhooks.2.secret_env: must be the name of the environment variable" in text
    good_twice = {"webhooks": [hook("https://a.example/h"), hook("https://a.example/h")]}
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(tmp_path / "two", good_twice), ENV_HOOKS, need_secrets=True)
    assert "webhooks.1.url: https://a.example/h is listed twice" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(tmp_path / "three", {"webhooks": [hook("https://a.example/h")]}),
                    ENV, need_secrets=True)  # fmt: skip
    assert "webhooks.0.secret_env: environment variable VOUCH_WEBHOOK_SECRET must be set" in str(
        caught.value
    )


@pytest.mark.sqlite_only(
    "SQLite's EXPLAIN QUERY PLAN on SQLite's columns (epoch ms); PostgreSQL's indexes are "
    "held to SQLite's by tests/test_pg_schema.py, and its planner scans tables this small"
)
async def test_each_tick_finds_unreported_facts_by_their_partial_indexes(
    store: SQLiteStore,
) -> None:
    for table, sql in FACT_QUERIES.values():
        plan = await store.explain(sql, (10,))
        assert plan[0].endswith(f"USING INDEX {table}_unreported"), plan


async def test_history_from_before_webhooks_is_not_news(
    config: Config, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def detractor(customer_id: int) -> Answer:
        return Answer(customer_id, "post_purchase", 2, "detractor", "No", "page", clock.now())

    older = [migration for migration in MIGRATIONS if migration[0] < 7]
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", older)
    store = await SQLiteStore.open(config.store_path)
    ann = await store.ensure_customer(ANN, clock.now())
    await store.save_answer(detractor(ann.id), clock.now())  # a response and a complaint
    await store.close()
    monkeypatch.undo()
    store = await SQLiteStore.open(config.store_path)
    try:
        assert await store.unreported_facts(10) == []
        bo = await store.ensure_customer("bo@example.com", clock.now())
        await store.save_answer(detractor(bo.id), clock.now())
        facts = await store.unreported_facts(10)
        assert sorted(f.type for f in facts) == ["complaint.opened", "response.recorded"]
        assert {f.customer_id for f in facts} == {bo.id}
    finally:
        await store.close()


async def test_forgetting_a_person_stops_and_erases_their_queued_deliveries(
    loop: Loop, receiver: Receiver
) -> None:
    receiver.answer(503)
    await answer(loop, ANN, 10, "Ann's words")
    await loop.run()
    assert len(receiver.requests) == 1  # refused for now: queued for a retry
    gone = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert gone.status_code == 200, gone.text
    await loop.travel(timedelta(hours=2))
    assert len(receiver.requests) == 1  # never posted again
    ((_, state, _, _),) = await webhook_rows(loop)
    assert state == "suppressed"
    store = loop.services.store
    (row,) = query(store, "SELECT message FROM outbox WHERE kind = ?", (WEBHOOK,))
    assert bytes(row[0]) == b""
