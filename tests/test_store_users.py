"""Dashboard users on each backend (the `concerns` fixture): made once per address, sessions
opened, held and ended (by a password change, disabling, the first user), and the latest
action on each item."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT

from daemon.store.rows import Action, Holder

HOUR = timedelta(hours=1)


async def test_users_and_their_sessions(concerns: Any) -> None:
    store = concerns
    await store.open_session(b"shared", AT + HOUR, AT)  # the shared password, no user yet
    assert await store.session_holder(b"shared", AT) == Holder(None, "owner", "owner")
    assert await store.user_count() == 0
    ann = await store.add_user("ann@example.com", "Ann", "owner", "hash-1", AT)
    assert ann is not None and (ann.name, ann.role, ann.created_at) == ("Ann", "owner", AT)
    assert await store.add_user("ann@example.com", "Ann", "staff", "hash-2", AT) is None
    assert await store.session_holder(b"shared", AT) is None  # the first user ended it
    bo = await store.add_user("bo@example.com", "Bo", "staff", "hash-3", AT)
    assert [u.email for u in await store.users()] == ["ann@example.com", "bo@example.com"]
    assert await store.user_by_email("bo@example.com") == bo

    for sid in (b"a1", b"a2"):
        await store.open_session(sid, AT + HOUR, AT, ann.id)
    assert await store.session_holder(b"a1", AT) == Holder(ann.id, "Ann", "owner")
    assert await store.session_holder(b"a1", AT + HOUR) is None  # expired
    await store.set_password(ann.id, "hash-4", AT, keep=b"a1", rehash=True)
    assert await store.session_holder(b"a2", AT) is not None  # a rehash ends nothing
    await store.set_password(ann.id, "hash-5", AT, keep=b"a1")
    assert await store.session_holder(b"a1", AT) is not None
    assert await store.session_holder(b"a2", AT) is None
    await store.set_password(ann.id, "hash-6", AT)
    assert await store.session_holder(b"a1", AT) is None
    assert (await store.user_by_email("ann@example.com")).password_hash == "hash-6"

    await store.open_session(b"b1", AT + HOUR, AT, bo.id)
    await store.end_session(b"b1")
    assert await store.session_holder(b"b1", AT) is None
    await store.open_session(b"b2", AT + 2 * HOUR, AT + HOUR, bo.id)  # forgets expired ones
    assert await store.disable_user(bo.id, AT)
    assert not await store.disable_user(bo.id, AT)
    assert await store.session_holder(b"b2", AT + HOUR) is None
    assert await store.user_count() == 2


async def test_the_latest_action_on_each_item(concerns: Any) -> None:
    store = concerns
    ann, bo = Holder(1, "Ann", "owner"), Holder(None, "owner", "owner")
    await store.record_action(ann, "approved", "r_1", AT)
    await store.record_action(bo, "moved", "r_1", AT + HOUR)
    await store.record_action(ann, "noted", "r_2", AT)
    await store.record_action(ann, "again", "r_2", AT)  # the same time: the later recorded
    assert await store.last_actions(["r_1", "r_2", "r_3"]) == {
        "r_1": Action("r_1", "moved", "owner", AT + HOUR),
        "r_2": Action("r_2", "again", "Ann", AT),
    }
    assert await store.last_actions([]) == {}
