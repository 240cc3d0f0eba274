"""Referrals credit themselves: a referred friend's purchase (Stripe, Shopify, the API) marks the
referral won, once, by the owner's choice; the rule between advocates is written down and held
here. End to end with the fake clock, the real app, the real store and the real SMTP server,
plus table tests of the pure rule (daemon/engine/attribution.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.engine.attribution import (
    Candidate,
    CodeOwner,
    Create,
    Credit,
    NoCredit,
    Purchase,
    decide,
)
from daemon.referrals import attribution

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field
from helpers import ENV, query, write_business
from smtp_server import SmtpServer

STRIPE = "whsec_test_0123456789abcdef"
SHOPIFY = "shpss_test_0123456789abcdef"
ANN, BO, DEE = "ann@example.com", "bo@example.com", "dee@example.com"


@pytest.fixture
def mode() -> str:
    return "auto"


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer, mode: str) -> Config:
    names = {"stripe_secret_env": "STRIPE_WEBHOOK_SECRET", "shopify_secret_env": "SHOPIFY_SECRET"}
    base = make_config(
        {
            **smtp_changes(smtp_server),
            **CONFIG_CHANGES,  # the dashboard, for "confirm"
            "integrations": names,
            "referrals": {"attribution": mode, "attribution_window_days": 180},
        }
    )
    env = {**ENV, **ENV_EXTRA, "STRIPE_WEBHOOK_SECRET": STRIPE, "SHOPIFY_SECRET": SHOPIFY}
    return load_config(base.path, env, need_secrets=True)


async def advocate(loop: Loop, email: str) -> str:
    """A customer with a referral code (as a promoter's ask gives them)."""
    await loop.event("purchase.completed", email, "2026-02-01T10:00:00Z", name=email[:3].title())
    await loop.run()
    customer = await loop.services.store.customer_by_email(email)
    assert customer is not None
    return (await loop.services.store.ensure_advocate(customer.id, loop.clock.now())).code


async def introduce(loop: Loop, code: str, friend: str = DEE) -> None:
    form = {"friend_name": "Dee Friend", "friend_email": friend, "need": "A new kitchen"}
    answer = await loop.client.post(f"/r/{code}/introduce", data=form)
    assert answer.status_code == 200, answer.text
    await loop.run()
    loop.new_mail()  # the owner's note and the advocate's thanks: not what is tested here


async def stripe(loop: Loop, email: str, cents: int, event_id: str = "evt_1", **meta: str) -> None:
    now = int(loop.clock.now().timestamp())
    checkout = {
        "id": event_id,
        "object": "event",
        "created": now,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": f"cs_{event_id}",
                "amount_total": cents,
                "currency": "gbp",
                "customer_details": {"email": email, "name": "Dee Friend"},
                "metadata": meta,
            }
        },
    }
    body = json.dumps(checkout).encode()
    mac = hmac.new(STRIPE.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Stripe-Signature": f"t={now},v1={mac}", "Content-Type": "application/json"}
    answer = await loop.client.post("/v1/integrations/stripe", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def shopify(loop: Loop, email: str, total: str, order_id: int = 1, **extra: Any) -> None:
    at = loop.clock.now().isoformat()
    order = {
        "id": order_id,
        "email": email,
        "created_at": at,
        "updated_at": at,
        "total_price": total,
        "currency": "GBP",
        "customer": {"first_name": "Dee", "last_name": "Friend", "email": email},
        **extra,
    }
    body = json.dumps(order).encode()
    mac = base64.b64encode(hmac.new(SHOPIFY.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Hmac-Sha256": mac,
        "X-Shopify-Topic": "orders/fulfilled",
        "Content-Type": "application/json",
    }
    answer = await loop.client.post("/v1/integrations/shopify", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def buy(loop: Loop, platform: str, email: str, **code: str) -> None:
    """The friend's purchase of £420, by Stripe or Shopify, once."""
    if platform == "stripe":
        await stripe(loop, email, 42000, **code)
    else:
        discount = [{"code": code["referral_code"]}] if code else []
        await shopify(loop, email, "420.00", discount_codes=discount)


def referrals(loop: Loop) -> list[tuple[Any, ...]]:
    store = loop.services.store
    return query(
        store,
        "SELECT c.email, r.friend_email, r.status, r.value, r.grade, r.channel "
        "FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
        "JOIN customers c ON c.id = a.customer_id ORDER BY r.id",
    )


def rewards(mail: list[EmailMessage], to: str) -> list[str]:
    return [
        text_of(m) for m in mail if m["To"].addresses[0].addr_spec == to and "THANKS-" in text_of(m)
    ]


@pytest.mark.parametrize("platform", ["stripe", "shopify"])
async def test_a_referred_friends_purchase_credits_the_advocate_once(
    loop: Loop, platform: str
) -> None:
    code = await advocate(loop, ANN)
    await introduce(loop, code)
    loop.clock.advance(timedelta(days=10))
    await buy(loop, platform, DEE)
    await buy(loop, platform, DEE)  # the platform retries its delivery
    await loop.run()
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 420.0, "C", "introduce")]
    assert len(rewards(loop.new_mail(), ANN)) == 1
    loop.clock.advance(timedelta(days=10))  # a second purchase by the friend: credited once
    if platform == "stripe":
        await stripe(loop, DEE, 9900, event_id="evt_2")
    else:
        await shopify(loop, DEE, "99.00", order_id=2)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 420.0, "C", "introduce")]
    assert rewards(loop.new_mail(), ANN) == []


@pytest.mark.parametrize("mode", ["confirm"])
@pytest.mark.parametrize("platform", ["stripe", "shopify"])
async def test_confirm_waits_for_the_owners_one_click(loop: Loop, platform: str) -> None:
    code = await advocate(loop, ANN)
    await introduce(loop, code)
    loop.clock.advance(timedelta(days=10))
    await buy(loop, platform, DEE)
    await buy(loop, platform, DEE)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "new", None, "C", "introduce")]
    assert rewards(loop.new_mail(), ANN) == []
    form = await loop.client.get("/admin/login")
    login = {"nonce": field(form.text, "nonce"), "next": "/admin", "password": PASSWORD}
    assert (await loop.client.post("/admin/login", data=login)).status_code == 303
    page = (await loop.client.get("/admin/referrals")).text
    assert "Attributed: purchase.completed" in page and "matched by the friend" in page
    assert "Confirm: won, £420.00" in page
    found = re.search(
        r'<form method="post" action="([^"]+)" class="confirm">(.*?)</form>', page, re.S
    )
    assert found is not None
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', found.group(2)))
    answer = await loop.client.post(found.group(1), data=data)
    assert answer.status_code == 303, answer.text
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 420.0, "C", "introduce")]
    assert len(rewards(loop.new_mail(), ANN)) == 1
    assert "Confirm: won" not in (await loop.client.get("/admin/referrals")).text


@pytest.mark.parametrize("mode", ["off"])
@pytest.mark.parametrize("platform", ["stripe", "shopify"])
async def test_attribution_off_does_nothing(loop: Loop, platform: str) -> None:
    code = await advocate(loop, ANN)
    await introduce(loop, code)
    loop.clock.advance(timedelta(days=10))
    await buy(loop, platform, DEE)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "new", None, "C", "introduce")]
    assert rewards(loop.new_mail(), ANN) == []


@pytest.mark.parametrize("platform", ["stripe", "shopify"])
async def test_an_advocates_code_without_an_introduction_makes_the_referral(
    loop: Loop, platform: str
) -> None:
    code = await advocate(loop, ANN)
    loop.clock.advance(timedelta(days=3))
    await buy(loop, platform, DEE, referral_code=code)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 420.0, "B", "code")]
    assert len(rewards(loop.new_mail(), ANN)) == 1


async def test_a_code_in_the_api_events_data_counts_too(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    event = {
        "id": "order-1",
        "type": "purchase.completed",
        "occurred_at": "2026-03-02T10:00:00Z",
        "customer": {"email": DEE},
        "data": {"amount": 75, "referral_code": code},
    }
    answer = await loop.client.post("/v1/events", json=event, headers=AUTH)
    assert answer.status_code == 202, answer.text
    await loop.client.post("/v1/events", json=event, headers=AUTH)  # sent twice: once
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 75.0, "B", "code")]


async def test_a_self_referral_never_credits(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    loop.clock.advance(timedelta(days=3))
    await stripe(loop, ANN, 42000, referral_code=code)  # her own code on her own purchase
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == []
    assert rewards(loop.new_mail(), ANN) == []


async def test_an_existing_customer_never_credits(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    await advocate(loop, BO)  # Bo bought on 1 February, before Ann named him
    await introduce(loop, code, friend=BO)
    loop.clock.advance(timedelta(days=3))
    await stripe(loop, BO, 42000)
    await stripe(loop, BO, 42000, event_id="evt_2", referral_code=code)
    await loop.travel(timedelta(days=1))
    assert [r[2] for r in referrals(loop)] == ["new"]
    assert rewards(loop.new_mail(), ANN) == []


async def test_outside_the_window_nothing(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    await introduce(loop, code)
    loop.clock.advance(timedelta(days=181))
    await stripe(loop, DEE, 42000)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "new", None, "C", "introduce")]


async def test_two_advocates_the_first_introduction_wins_and_a_code_beats_it(
    loop: Loop,
) -> None:
    ann, bo = await advocate(loop, ANN), await advocate(loop, BO)
    await introduce(loop, ann)
    loop.clock.advance(timedelta(days=1))
    await introduce(loop, bo)
    loop.clock.advance(timedelta(days=1))
    await stripe(loop, DEE, 42000)  # by address only: Ann named Dee first
    await loop.travel(timedelta(days=1))
    assert [(r[0], r[2]) for r in referrals(loop)] == [(ANN, "won"), (BO, "new")]


async def test_an_explicit_code_beats_the_first_introduction(loop: Loop) -> None:
    ann, bo = await advocate(loop, ANN), await advocate(loop, BO)
    await introduce(loop, ann)
    loop.clock.advance(timedelta(days=1))
    await introduce(loop, bo)
    loop.clock.advance(timedelta(days=1))
    await stripe(loop, DEE, 42000, referral_code=bo)  # Dee came with Bo's code
    await loop.travel(timedelta(days=1))
    assert [(r[0], r[2]) for r in referrals(loop)] == [(ANN, "new"), (BO, "won")]
    assert len(rewards(loop.new_mail(), BO)) == 1


# the pure rule -----------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = timedelta(days=180)


def ref(rid: int, advocate: str, code: str, days: int, status: str = "new") -> Candidate:
    return Candidate(rid, advocate, code, status, T0 + timedelta(days=days))


def bought(days: int, code: str | None = None, first: int | None = None) -> Purchase:
    earlier = T0 + timedelta(days=first) if first is not None else None
    return Purchase(DEE, T0 + timedelta(days=days), code, earlier)


@pytest.mark.parametrize(
    ("purchase", "candidates", "owner", "expected"),
    [
        (bought(5), [ref(1, ANN, "a", 0)], None, Credit),
        (bought(5), [], None, NoCredit),
        (bought(200), [ref(1, ANN, "a", 0)], None, NoCredit),  # outside the window
        (bought(5), [ref(1, ANN, "a", 10)], None, NoCredit),  # introduced after the purchase
        (bought(5), [ref(1, ANN, "a", 0, "won")], None, NoCredit),  # credited once
        (bought(5), [ref(1, ANN, "a", 0, "lost")], None, NoCredit),
        (bought(5), [Candidate(1, ANN, "a", "new", T0, attributed=True)], None, NoCredit),
        (bought(5, first=-3), [ref(1, ANN, "a", 0)], None, NoCredit),  # an existing customer
        (bought(5, first=2), [ref(1, ANN, "a", 0)], None, Credit),  # bought since: theirs
        (bought(5, "a"), [ref(1, DEE, "a", 0)], None, NoCredit),  # self-referral
        (bought(5, "a"), [], CodeOwner(7, ANN), Create),
        (bought(5, "d"), [], CodeOwner(7, DEE), NoCredit),  # one's own code
        (bought(5, "a", first=-1), [], CodeOwner(7, ANN), NoCredit),  # an existing customer
    ],
)
def test_the_rule(
    purchase: Purchase, candidates: list[Candidate], owner: CodeOwner | None, expected: type
) -> None:
    assert isinstance(decide(purchase, candidates, owner, WINDOW), expected)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": "stripe", "amount": 42000, "currency": "gbp"}, 420.0),
        ({"source": "stripe", "amount": 42000, "currency": "jpy"}, 42000.0),
        ({"source": "shopify", "amount": "403.00"}, 403.0),
        ({"amount": 75}, 75.0),
        ({"amount": "lots"}, None),
        ({"amount": -5}, None),
        ({}, None),
    ],
)
def test_the_value_credited(data: dict[str, Any], expected: float | None) -> None:
    assert attribution.value(data) == expected


def test_between_two_advocates_the_first_in_the_window_then_a_code() -> None:
    both = [ref(2, BO, "b", 1), ref(1, ANN, "a", 2)]
    assert decide(bought(5), both, None, WINDOW) == Credit(
        2, "matched by the friend's address; introduced 2026-03-02"
    )
    by_code = decide(bought(5, "a"), both, CodeOwner(1, ANN), WINDOW)
    assert isinstance(by_code, Credit) and by_code.referral_id == 1
    lapsed = [ref(1, ANN, "a", -300), ref(2, BO, "b", 1)]  # Ann's lapsed: Bo's counts
    assert decide(bought(5), lapsed, None, WINDOW) == Credit(
        2, "matched by the friend's address; introduced 2026-03-02"
    )


def test_vouch_check_names_a_wrong_attribution_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = {"referrals": {"attribution": "always", "attribution_window_days": 0}}
    path = write_business(tmp_path / "biz", changes)
    assert main(["check", "--config", str(path)]) == 2
    said = capsys.readouterr().err
    assert (
        "referrals.attribution" in said
        and '"confirm" (it waits for the owner\'s click) or "off"' in said
    ), said
    assert "referrals.attribution_window_days" in said


async def test_odd_codes_in_an_events_data_never_stop_the_sweep(loop: Loop) -> None:
    """What an integration may put where codes go (a string for the list, numbers, NUL bytes,
    a very long code, thousands of them): the purchase is planned, nothing is set aside, and
    the one real code still counts."""
    code = await advocate(loop, ANN)
    odd: list[Any] = [
        {"discount_codes": "ABC"},
        {"discount_codes": {"a": 1}},
        {"discount_codes": [1, None, {"x": 1}]},
        {"referral_code": 12345},
        {"referral_code": "x\x00y" * 10},
        {"referral_code": "A" * 100_000},
        {"discount_codes": [f"NOPE{n}" for n in range(5000)]},
    ]
    for n, data in enumerate(odd):
        event = {
            "id": f"odd-{n}",
            "type": "purchase.completed",
            "occurred_at": "2026-03-02T10:00:00Z",
            "customer": {"email": f"odd{n}@example.com"},
            "data": data,
        }
        answer = await loop.client.post("/v1/events", json=event, headers=AUTH)
        assert answer.status_code in (202, 422), answer.text
    good = {
        "id": "good",
        "type": "purchase.completed",
        "occurred_at": "2026-03-02T10:00:00Z",
        "customer": {"email": DEE},
        "data": {"amount": 75, "discount_codes": ["NOPE", code]},
    }
    assert (await loop.client.post("/v1/events", json=good, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 75.0, "B", "code")]
    store = loop.services.store
    assert query(store, "SELECT kind, item, error FROM set_aside") == []
