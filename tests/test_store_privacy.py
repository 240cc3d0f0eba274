"""A person's data on each backend (the `concerns` fixture): exported, then forgotten by
exact match only (a near miss, joann@ beside ann@, keeps everything), a replay still known
by its keyed hash, the address kept only hashed in the suppression list."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from test_store import email
from test_store_answers import answer
from test_store_concerns import AT, customer_id, event, fetch
from test_store_referrals import referral

from daemon.store import Recorded
from daemon.store.friend_offers import Redemption
from daemon.store.outbox import suppression_keys
from daemon.store.public_answers import NewPublicAnswer


async def plant(store: Any, address: str) -> int:
    """A customer with an event, an answer with a comment, a referral made, an email each to
    them and about their referral (to a webhook)."""
    who = await customer_id(store, address, name="Ann")
    await store.save_answer(answer(who, 9, comment=f"from {address}", external_id=address), AT)
    made = await referral(store, (await store.ensure_advocate(who, AT)).id, name=f"F{who}")
    await store.enqueue(replace(email(f"to:{address}", address), customer_id=who), AT)
    hook = replace(email(f"webhook:https://h.example/x:referral.created:{made.id}", "x"),
                   kind="webhook", recipient="https://h.example/x")  # fmt: skip
    await store.enqueue(hook, AT)
    return who


async def test_export_then_forget_one_person_exactly(concerns: Any) -> None:
    store = concerns
    ann = await plant(store, "ann@example.com")
    joann = await plant(store, "joann@example.com")
    exported = await store.person_export("Ann@Example.com")
    assert exported["customer"]["id"] == ann and exported["customer"]["name"] == "Ann"
    assert [e["id"] for e in exported["events"]] == ["ev-ann@example.com"]
    assert [r["comment"] for r in exported["responses"]] == ["from ann@example.com"]
    assert len(exported["referrals_made"]) == 1 and len(exported["emails"]) == 1

    forgot = await store.forget("ann@example.com", AT)
    assert forgot["held"] and forgot["placeholder"].startswith("forgotten-")
    changed = forgot["changed"]
    assert (changed["customer"], changed["events"], changed["responses"]) == (1, 1, 1)
    assert changed["emails"] == 2  # her email and the webhook body about her referral
    assert await store.customer_by_email("ann@example.com") is None
    assert (await store.customer(ann)).name is None
    assert await store.suppression_reason("ann@example.com") == "forgotten"
    assert (
        await fetch(store, "SELECT email FROM suppressions WHERE email = ?", "ann@example.com")
        == []
    )
    assert await store.response_by_external_id("ann@example.com") is not None  # by its hash
    again = await store.record_event(event("ev-ann@example.com", "ann@example.com", name="Ann"), AT)
    assert again.recorded is Recorded.REPLAY

    # joann@ (ann@ inside her address) keeps every row as it was
    kept = await store.person_export("joann@example.com")
    assert kept["customer"]["id"] == joann
    assert [r["comment"] for r in kept["responses"]] == ["from joann@example.com"]
    assert kept["referrals_made"][0]["friend_name"] == f"F{joann}"
    messages = await fetch(store, "SELECT dedupe_key, message FROM outbox ORDER BY id")
    erased = {key for key, message in messages if not bytes(message)}
    assert erased == {"to:ann@example.com", "webhook:https://h.example/x:referral.created:1"}
    assert suppression_keys("joann@example.com")[0] not in {
        r[0] for r in await fetch(store, "SELECT email FROM suppressions")
    }
    second = await store.forget("ann@example.com", AT)
    assert not second["held"]  # forgotten already


async def plant_promoter_moments(store: Any, who: int, address: str) -> None:
    """A review ask sent and its click, another scheduled; the friend offer's code and a
    purchase that redeemed it (by the person), and an answer through the public link."""
    advocate = await store.ensure_advocate(who, AT)
    assert await store.plan_review_ask(who, f"response:{address}", AT, AT)
    (sent,) = await store.review_asks_of(who)
    await store.review_ask_sent(sent.id, [{"name": "Google", "url": "https://g.example"}], AT)
    await store.add_review_click(sent.id, 0, "Google", AT)
    assert await store.plan_review_ask(who, f"response:later-{address}", AT, AT)
    code = await store.friend_code(advocate.id, "F", AT)
    redemption = Redemption(
        f"ev-{address}", advocate.id, who, code, None, f"purchase ev-{address}: {code}", 90.0, AT
    )
    assert await store.record_redemption(redemption)
    await store.add_public_answer(
        NewPublicAnswer("post_purchase", address, who, 10, f"said {address}", None), AT
    )


async def test_review_asks_friend_offers_and_public_answers_exported_and_forgotten(
    concerns: Any,
) -> None:
    store = concerns
    ann = await plant(store, "ann@example.com")
    joann = await plant(store, "joann@example.com")
    await plant_promoter_moments(store, ann, "ann@example.com")
    await plant_promoter_moments(store, joann, "joann@example.com")

    exported = await store.person_export("ann@example.com")
    assert [(a["state"], a["sites"]) for a in exported["review_asks"]] == [
        ("sent", [{"name": "Google", "url": "https://g.example"}]),
        ("scheduled", []),
    ]
    assert [(k["site_name"], k["state"]) for k in exported["review_clicks"]] == [
        ("Google", "pending")
    ]
    (code,) = exported["friend_code"]
    (redeemed,) = exported["friend_redemptions"]
    assert redeemed["code"] == code["code"] and redeemed["what"] == "bought with it"
    assert redeemed["event_id"] == "ev-ann@example.com" and redeemed["amount"] == 90.0
    assert [a["comment"] for a in exported["public_answers"]] == ["said ann@example.com"]

    changed = (await store.forget("ann@example.com", AT))["changed"]
    assert (changed["friend_code"], changed["friend_redemptions"]) == (1, 1)
    assert (changed["review_asks"], changed["public_answers"]) == (1, 1)
    assert await store.friend_code_owner(code["code"]) is None  # credits nobody now
    gone = await store.person_export("ann@example.com")
    assert gone["friend_code"] == gone["review_asks"] == gone["public_answers"] == []
    (kept,) = await store.redemptions((await store.ensure_advocate(ann, AT)).id)
    assert kept.code == "" and kept.outcome == "erased with the person"
    assert kept.event_id.startswith("erased:") and kept.amount == 90.0  # the facts stay
    assert [a.state for a in await store.review_asks_of(ann)] == ["sent", "skipped"]

    # joann@ (ann@ inside her address) keeps every row as it was
    hers = await store.person_export("joann@example.com")
    assert [a["state"] for a in hers["review_asks"]] == ["sent", "scheduled"]
    assert len(hers["review_clicks"]) == 1 and len(hers["friend_code"]) == 1
    assert hers["friend_redemptions"][0]["outcome"].startswith("purchase ev-joann@example.com")
    assert [a["comment"] for a in hers["public_answers"]] == ["said joann@example.com"]
