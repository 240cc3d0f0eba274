"""Partners on each backend (the `concerns` fixture): added once per address (a customer's
address keeps its row and code), edited, found, the clients given to them and closed, the
organization an event named, and the balance's facts."""

from __future__ import annotations

import json
from typing import Any

from test_store_concerns import AT, customer_id, execute
from test_store_referrals import referral

from daemon.store.rows import GivenClient, NewPartner, PartnerEdit, ReferralMove


async def test_a_partner_added_once_edited_and_found(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    code = (await store.ensure_advocate(ann, AT)).code
    new = NewPartner("Ann@Example.com", "Roofs & Co", "roofer", "plumbers", "Ann B", True)
    partner = await store.add_partner(new, AT)
    assert partner is not None
    assert (partner.customer_id, partner.code, partner.contact, partner.reward) == (
        ann,
        code,
        "Ann B",
        True,
    )
    assert await store.add_partner(new, AT) is None  # a partner already
    edited = await store.update_partner(partner.id, PartnerEdit(trade="tiler", reward=False), AT)
    assert (edited.trade, edited.name, edited.reward) == ("tiler", "Roofs & Co", False)
    cleared = await store.update_partner(partner.id, PartnerEdit(contact=""), AT)
    assert cleared.contact is None
    for ref in (partner.public_id, code, "ANN@example.com", "roofs & co"):
        assert await store.partners_matching(ref) == [cleared]
    assert await store.partner_by_advocate(partner.advocate_id) == cleared
    other = await store.add_partner(NewPartner("bo@example.com", "Bo's", "plumber", "x"), AT)
    assert [p.name for p in await store.partners()] == ["Bo's", "Roofs & Co"]
    assert other is not None and other.contact is None


async def test_clients_given_and_the_balance(concerns: Any) -> None:
    store = concerns
    partner = await store.add_partner(NewPartner("p@example.com", "P", "roofer", "x"), AT)
    made = await referral(store, partner.advocate_id)
    await store.move_referral(made.id, ReferralMove("won", 300.0), AT)
    assert [r.id for r in await store.referrals_from(partner.advocate_id)] == [made.id]
    given = await store.give_referral(partner.id, GivenClient("Dee", "dee@example.com", "hi"), AT)
    assert (given.status, given.created_at, given.closed_at) == ("given", AT, None)
    assert await store.given_referral(given.public_id) == given
    closed = await store.close_given(given.id, "won", 120.0, AT)
    assert (closed.status, closed.value, closed.closed_at) == ("won", 120.0, AT)
    assert await store.given_to(partner.id) == [closed]
    assert await store.partner_facts() == [
        (partner.public_id, "P", None, "p@example.com", 1, 1, 300.0, 1, 1)
    ]


async def test_the_organization_an_event_named(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    payload = {"id": "ev-org", "data": {"organization": "Roofs & Co", "email": "p@x.example"}}
    await execute(
        store,
        "INSERT INTO events (id, type, known, occurred_at, received_at, customer_id, body_hash, "
        "payload, receipt) VALUES ('ev-org', 'partner.joined_organization', TRUE, ?, ?, ?, 'h', "
        "?, '{}')",
        AT,
        AT,
        ann,
        json.dumps(payload),
    )
    assert await store.organization_joined("ev-org") == "Roofs & Co"
    assert await store.organization_joined("ev-none") is None
