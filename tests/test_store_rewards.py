"""Rewards on each backend (the `concerns` fixture): one reward a won referral, generated,
approved, or paid from the owner's pool of codes, each code once; told to the advocate once.
On PostgreSQL, two processes paying from one pool at once never take the same code."""

from __future__ import annotations

import asyncio
from typing import Any

from test_store_concerns import AT, customer_id
from test_store_referrals import referral

from daemon.store.pgdb import PGDB
from daemon.store.postgres import PostgresStore
from daemon.store.rows import NewReward


async def won(store: Any, email: str = "ann@example.com", friend: str = "Cy") -> Any:
    advocate = await store.ensure_advocate(await customer_id(store, email), AT)
    return await referral(store, advocate.id, name=friend, email=f"{friend.lower()}@example.com")


async def test_one_reward_a_referral_generated_or_approved(concerns: Any) -> None:
    store = concerns
    made = await won(store)
    gift = NewReward("a voucher", "generated", "THX-", approval=True)
    reward = await store.create_reward(made, gift, AT)
    assert (reward.state, reward.code.startswith("THX-")) == ("awaiting_approval", True)
    assert await store.create_reward(made, gift, AT) == reward  # a second call: the first
    assert await store.unnotified_rewards(10) == []
    approved = await store.approve_reward(made.id, AT)
    assert approved is not None and approved.state == "issued"
    assert await store.approve_reward(made.id, AT) is None  # approved already
    assert await store.unnotified_rewards(10) == [approved]
    await store.reward_notified(approved.id)
    assert await store.unnotified_rewards(10) == []
    assert await store.rewards_of(made.advocate_id) == [approved]
    assert await store.reward_of_referral(made.id) == approved
    assert await store.reward_of_referral(999) is None


async def test_pool_codes_are_each_used_once(concerns: Any) -> None:
    store = concerns
    pool = NewReward("a voucher", "pool", "", approval=False)
    first = await store.create_reward(await won(store, friend="Cy"), pool, AT)
    assert (first.state, first.code) == ("awaiting_code", None)
    assert await store.load_reward_codes(["P-1", "P-2"], AT, "issued") == 2
    second = await store.create_reward(await won(store, friend="Di"), pool, AT)
    assert await store.load_reward_codes(["P-2", "P-3"], AT, "issued") == 1
    paid = await store.rewards_of(first.advocate_id)
    assert [(r.id, r.code, r.state) for r in paid] == [
        (first.id, "P-1", "issued"),
        (second.id, "P-2", "issued"),
    ]


async def test_two_processes_paying_at_once_take_different_codes(concerns: Any) -> None:
    store = concerns
    other = await PostgresStore.open(store.url) if isinstance(store, PGDB) else store
    try:
        await store.load_reward_codes([f"P-{n}" for n in range(6)], AT, "issued")
        made = [await won(store, friend=f"F{n}") for n in range(6)]
        pool = NewReward("a voucher", "pool", "", approval=False)
        rewards = await asyncio.gather(
            *(
                (store if n % 2 else other).create_reward(referral, pool, AT)
                for n, referral in enumerate(made)
            )
        )
        assert sorted(r.code for r in rewards) == [f"P-{n}" for n in range(6)]
    finally:
        if other is not store:
            await other.close()
