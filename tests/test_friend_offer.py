"""Something for the friend too: the friend offer, with the advocate's own friend code, shown on
the landing and introduce pages and in the friend's note; a purchase carrying the code (Stripe,
Shopify, the API) is recorded once and attributes the referral; offer tests vary the friend's
side. Real app, real store, real SMTP, fake clock; the store's calls on both backends."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from loop import AUTH, Loop, html_of, smtp_changes, text_of
from test_attribution import (
    ANN,
    DEE,
    SHOPIFY,
    STRIPE,
    advocate,
    referrals,
    rewards,
    shopify,
    stripe,
)

from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.store.friend_offers import ALPHABET, Redemption

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, query, write_business
from smtp_server import SmtpServer

PERCENT: dict[str, Any] = {"friend_offer": {"percent_off": 10}}
CODE = re.compile(r"FRIEND-[A-Z2-9]{8}")


@pytest.fixture
def friend_offer() -> dict[str, Any]:
    return PERCENT


@pytest.fixture
def mode() -> str:
    return "auto"


@pytest.fixture
def loop_config(
    tmp_path: Any, smtp_server: SmtpServer, friend_offer: dict[str, Any], mode: str
) -> Config:
    names = {"stripe_secret_env": "STRIPE_WEBHOOK_SECRET", "shopify_secret_env": "SHOPIFY_SECRET"}
    changes = {
        **smtp_changes(smtp_server),
        **CONFIG_CHANGES,
        "integrations": names,
        "referrals": {"attribution": mode, **friend_offer},
    }
    env = {**ENV, **ENV_EXTRA, "STRIPE_WEBHOOK_SECRET": STRIPE, "SHOPIFY_SECRET": SHOPIFY}
    return load_config(write_business(tmp_path / "biz", changes), env, need_secrets=True)


def offer_line(html: str) -> str:
    found = re.search(r'<p class="note offer" id="friend-offer">(.*?)</p>', html, re.S)
    assert found is not None, html
    return found.group(1)


def redemptions(loop: Loop) -> list[tuple[Any, ...]]:
    store = loop.services.store
    return query(
        store,
        "SELECT event_id, code, referral_id IS NOT NULL, outcome, amount FROM friend_redemptions "
        "ORDER BY id",
    )


async def test_the_landing_and_introduce_pages_show_the_offer_and_its_code(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    landing = offer_line((await loop.client.get(f"/r/{code}")).text)
    (friend_code,) = CODE.findall(landing)
    assert landing == (
        f"A welcome from Ann and us: 10% off. Mention the code {friend_code} when you book."
    )
    introduce = offer_line((await loop.client.get(f"/r/{code}/introduce")).text)
    assert introduce == f"Your friends get something too: 10% off, with your code {friend_code}."
    again = offer_line((await loop.client.get(f"/r/{code}")).text)
    assert CODE.findall(again) == [friend_code]  # the advocate's own, kept

    other = await advocate(loop, "bo@example.com")
    assert CODE.findall(offer_line((await loop.client.get(f"/r/{other}")).text)) != [friend_code]

    # a form sent back with a problem still shows it
    sent = await loop.client.post(f"/r/{code}", data={"friend_name": "Dee"})
    assert sent.status_code == 400 and friend_code in offer_line(sent.text)


@pytest.mark.parametrize(
    "friend_offer",
    [{"friend_offer": {"amount_off": 50, "code_prefix": "PAL-"}}],
    ids=["amount"],
)
async def test_an_amount_in_the_businesss_money_and_the_readers_language(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    line = offer_line((await loop.client.get(f"/r/{code}")).text)
    assert "£50.00 off" in line and re.search(r"PAL-[A-Z2-9]{8}", line)
    fr = await loop.event(
        "purchase.completed", "zoe@example.fr", "2026-02-01T10:00:00Z", locale="fr"
    )
    assert fr.status_code == 202
    await loop.run()
    zoe = await loop.services.store.customer_by_email("zoe@example.fr")
    assert zoe is not None
    zoe_code = (await loop.services.store.ensure_advocate(zoe.id, loop.clock.now())).code
    line = offer_line((await loop.client.get(f"/r/{zoe_code}")).text)
    assert "50,00\xa0£GB de remise" in line and "Pour vous accueillir" in line


@pytest.mark.parametrize(
    "friend_offer",
    [{"friend_offer": {"text": "A free design visit & 10% off your first job"}}],
    ids=["text"],
)
async def test_the_owners_own_words_escaped_once(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    html = (await loop.client.get(f"/r/{code}")).text
    assert "A free design visit &amp; 10% off your first job" in offer_line(html)


@pytest.mark.parametrize("friend_offer", [{}], ids=["none"])
async def test_without_a_friend_offer_nothing_is_shown_nor_made(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    assert 'id="friend-offer"' not in (await loop.client.get(f"/r/{code}")).text
    assert 'id="friend-offer"' not in (await loop.client.get(f"/r/{code}/introduce")).text
    store = loop.services.store
    assert query(store, "SELECT count(*) FROM friend_codes") == [(0,)]


async def test_the_friends_note_carries_the_offer_and_the_code(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    form = {
        "friend_name": "Dee Friend",
        "friend_email": DEE,
        "need": "A new kitchen",
        "expects_contact": "yes",
    }
    assert (await loop.client.post(f"/r/{code}/introduce", data=form)).status_code == 200
    await loop.travel(timedelta(hours=2))
    (note,) = [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == DEE]
    text = text_of(note)
    (friend_code,) = CODE.findall(text)
    assert "As a welcome from Ann and us: 10% off." in text
    assert f"Just mention the code {friend_code} when you book." in text
    assert f"<strong>{friend_code}</strong>" in html_of(note)
    assert CODE.findall(offer_line((await loop.client.get(f"/r/{code}")).text)) == [friend_code]


async def friend_code_of(loop: Loop, code: str) -> str:
    (found,) = CODE.findall(offer_line((await loop.client.get(f"/r/{code}")).text))
    return str(found)


@pytest.mark.parametrize("platform", ["stripe", "shopify"])
async def test_a_purchase_with_the_friend_code_makes_and_credits_the_referral_once(
    loop: Loop, platform: str
) -> None:
    code = await advocate(loop, ANN)
    friend_code = await friend_code_of(loop, code)
    loop.clock.advance(timedelta(days=3))
    for _ in range(2):  # the platform delivers twice
        if platform == "stripe":
            await stripe(loop, DEE, 42000, referral_code=friend_code.lower())  # typed any case
        else:
            await shopify(loop, DEE, "420.00", discount_codes=[{"code": friend_code}])
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 420.0, "B", "code")]
    assert len(rewards(loop.new_mail(), ANN)) == 1
    ((_, used, credited, outcome, amount),) = redemptions(loop)
    assert (used, credited, amount) == (friend_code, 1, 420.0)
    assert f"the friend offer's code {friend_code}" in outcome


async def test_the_friend_code_credits_the_introduction_it_came_with(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    friend_code = await friend_code_of(loop, code)
    form = {"friend_name": "Dee Friend", "friend_email": DEE, "need": "A new kitchen"}
    assert (await loop.client.post(f"/r/{code}/introduce", data=form)).status_code == 200
    await loop.run()
    loop.clock.advance(timedelta(days=5))
    event = {
        "id": "order-7",
        "type": "purchase.completed",
        "occurred_at": loop.clock.now().isoformat(),
        "customer": {"email": DEE},
        "data": {"amount": 75, "referral_code": friend_code},
    }
    assert (await loop.client.post("/v1/events", json=event, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == [(ANN, DEE, "won", 75.0, "C", "introduce")]
    ((_, _, credited, outcome, _),) = redemptions(loop)
    assert credited == 1 and "matched by the referral code it carried" in outcome


async def test_the_advocates_own_friend_code_on_their_own_purchase_credits_nothing(
    loop: Loop,
) -> None:
    code = await advocate(loop, ANN)
    friend_code = await friend_code_of(loop, code)
    loop.clock.advance(timedelta(days=3))
    await stripe(loop, ANN, 42000, referral_code=friend_code)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == []
    assert redemptions(loop) == [
        ("stripe:evt_1", friend_code, 0, "self-referral: the buyer is the advocate", 420.0)
    ]


@pytest.mark.parametrize("mode", ["off"])
async def test_with_attribution_off_the_redemption_is_still_recorded(loop: Loop) -> None:
    code = await advocate(loop, ANN)
    friend_code = await friend_code_of(loop, code)
    await stripe(loop, DEE, 42000, referral_code=friend_code)
    await loop.travel(timedelta(days=1))
    assert referrals(loop) == []
    assert redemptions(loop) == [("stripe:evt_1", friend_code, 0, "attribution is off", 420.0)]


OFFER_TEST: dict[str, Any] = {
    "friend_offer": {"percent_off": 10},
    "offers": [
        {"id": "voucher50", "text": "A £50 voucher for you."},  # the friend: the default 10%
        {"id": "voucher25", "text": "A £25 voucher for you.", "friend": {"amount_off": 25}},
    ],
}


@pytest.mark.parametrize("friend_offer", [OFFER_TEST], ids=["offer-test"])
async def test_an_offer_test_may_vary_the_friends_side(loop: Loop) -> None:
    seen: dict[str, set[str]] = {"voucher50": set(), "voucher25": set()}
    for n in range(12):
        code = await advocate(loop, f"adv{n}@example.com")
        line = offer_line((await loop.client.get(f"/r/{code}")).text)
        store = loop.services.store
        customer = await store.customer_by_email(f"adv{n}@example.com")
        assert customer is not None
        terms = await store.offer_terms(
            (await store.ensure_advocate(customer.id, loop.clock.now())).id
        )
        assert terms is not None
        seen[terms.id].add(re.sub(r"FRIEND-\w+", "CODE", line))
    assert seen == {
        "voucher50": {"A welcome from Adv and us: 10% off. Mention the code CODE when you book."},
        "voucher25": {
            "A welcome from Adv and us: £25.00 off. Mention the code CODE when you book."
        },
    }


# config ----------------------------------------------------------------------------------------


def test_a_friend_offer_must_say_one_thing(make_config: Callable[..., Config]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config({"referrals": {"friend_offer": {"percent_off": 10, "amount_off": 5}}})
    assert "referrals.friend_offer" in str(caught.value) and "not both" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config({"referrals": {"friend_offer": {}}})
    assert "referrals.friend_offer" in str(caught.value) and "percent_off" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config({"referrals": {"friend_offer": {"percent_off": 120}}})
    assert "referrals.friend_offer.percent_off" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config({"referrals": {"friend_offer": {"text": "x", "code_prefix": "pal"}}})
    assert "referrals.friend_offer.code_prefix" in str(caught.value)
    offers = merge({}, OFFER_TEST)
    offers["offers"][1]["friend"] = {"percent_off": 0}
    with pytest.raises(ConfigError) as caught:
        make_config({"referrals": offers})
    assert "referrals.offers.1.friend.percent_off" in str(caught.value)


# the store, on both backends --------------------------------------------------------------------


async def _advocate_row(store: Any, email: str, now: datetime) -> int:
    customer = await store.ensure_customer(email, now)
    return int((await store.ensure_advocate(customer.id, now)).id)


async def test_the_store_keeps_one_code_per_advocate_and_one_redemption_per_event(
    store: Any,
) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ann = await _advocate_row(store, ANN, now)
    bo = await _advocate_row(store, "bo@example.com", now)
    code = await store.friend_code(ann, "FRIEND-", now)
    assert code.startswith("FRIEND-") and set(code[7:]) <= set(ALPHABET) and len(code) == 15
    assert await store.friend_code(ann, "OTHER-", now) == code  # made once, kept
    assert await store.friend_code(bo, "FRIEND-", now) != code
    assert await store.friend_code_owner(code.lower()) == ann
    assert await store.friend_code_owner(f" {code} ") == ann
    assert await store.friend_code_owner("FRIEND-NOPE") is None
    redemption = Redemption("evt_1", ann, None, code, None, "no referral", 42.0, now)
    assert await store.record_redemption(redemption) is True
    assert await store.record_redemption(redemption) is False
    assert await store.redemptions() == [redemption]
    assert await store.redemptions(ann) == [redemption]
    assert await store.redemptions(bo) == []
