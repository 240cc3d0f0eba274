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
from daemon.store.outbox import suppression_keys


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
