"""The owner's routine tasks in the dashboard, over HTTP through the real app, store and
templates: the customer list and search; a customer's influence mark, re-subscribe, notes,
data download and forget; a referral's confirmed win, reopen and notes; the reward queue with
Approve and codes loaded from a file.

Each action: refused without the session's CSRF token (and nothing changes), recorded with who
did it, and giving what its CLI command gives (the same code path)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from loop import Loop, smtp_changes
from test_dashboard import csrf, login

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.intake.events import CustomerIn
from daemon.owner import users

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, FRIENDS, field, seed
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

POOL = {"referrals": {"reward": {"kind": "pool", "approval": True}}}
ANN = "ann@example.com"
OWNER = ("mike@acme.example", "Mike", "owner", "a long owner password 1")
STAFF = ("sue@acme.example", "Sue", "staff", "a long staff password 22")


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    changes = merge(merge(smtp_changes(smtp_server), CONFIG_CHANGES), POOL)
    return load_config(
        write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the CLI reads its secrets from, as the daemon's."""
    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)


async def cli(loop: Loop, *args: str) -> int:
    return await asyncio.to_thread(main, [*args, "--config", str(loop.services.config.path)])


async def customer(loop: Loop, email: str = ANN, **fields: Any) -> str:
    """A customer imported as `vouch import` does; their public id."""
    store = loop.services.store
    await store.import_customers([CustomerIn(email=email, **fields)], loop.services.clock.now())
    found = await store.customer_by_email(email)
    assert found is not None
    return found.public_id


async def last_action(loop: Loop, item: str) -> tuple[str, str]:
    found = (await loop.services.store.last_actions([item]))[item]
    return found.action, found.by


async def log_in_as(client: httpx.AsyncClient, email: str, password: str) -> None:
    form = await client.get("/admin/login")
    done = await client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": "/admin", "email": email,
              "password": password},
    )  # fmt: skip
    assert done.status_code == 303, done.text


async def named_users(loop: Loop) -> None:
    for email, name, role, password in (OWNER, STAFF):
        await users.add(loop.services.store, email, name, role, password, loop.services.clock.now())


# customers --------------------------------------------------------------------------------------


async def test_the_customer_list_pages_and_searches_every_field(loop: Loop) -> None:
    for n in range(60):
        await customer(loop, f"c{n:02}@example.com", name=f"Customer {n:02}")
    await customer(loop, ANN, name="Ann Zed", external_id="CRM-417", tags=["deck", "vip"])
    await login(loop.client)
    first = await loop.client.get("/admin/customers")
    assert first.status_code == 200
    assert "1–50 of 61" in first.text and "Page 1 of 2" in first.text
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    assert 'role="region" tabindex="0" aria-label="Customers, 1 to 50 of 61"' in first.text
    second = await loop.client.get("/admin/customers", params={"page": 2})
    assert "51–61 of 61" in second.text and 'rel="prev"' in second.text
    assert "Customer 59" in second.text and "Customer 00" not in second.text
    past = await loop.client.get("/admin/customers", params={"page": 9})
    assert "51–61 of 61" in past.text and "Page 2 of 2" in past.text
    ann = await loop.services.store.customer_by_email(ANN)
    assert ann is not None
    for text in ("zed", "ANN@example", "vip", "crm-417"):  # one match opens the customer
        found = await loop.client.get("/admin/customers", params={"q": text})
        assert found.status_code == 303, text
        assert found.headers["location"] == f"/admin/customers/{ann.public_id}"
    some = await loop.client.get("/admin/customers", params={"q": "customer 1"})
    assert "1–10 of 10" in some.text and "Customer 19" in some.text
    none = await loop.client.get("/admin/customers", params={"q": "100%_nobody"})
    assert "No customer's name, email, tag or reference contains" in none.text


async def test_the_influence_mark_is_the_clis_and_recorded(loop: Loop, env: None) -> None:
    public_id = await customer(loop, name="Ann")
    path = f"/admin/customers/{public_id}/influence"
    await login(loop.client)
    assert (await loop.client.post(path, data={"mark": "8"})).status_code == 403
    store = loop.services.store
    ann = await store.customer_by_email(ANN)
    assert ann is not None
    assert (await store.influence_facts([ann.id]))[ann.id].mark is None
    token = await csrf(loop.client, f"/admin/customers/{public_id}")
    wrong = await loop.client.post(path, data={"csrf": token, "mark": "11"})
    assert wrong.status_code == 422
    assert 'aria-invalid="true"' in wrong.text and 'id="e-mark"' in wrong.text
    assert "whole number from 0 to 10" in wrong.text
    assert (await store.influence_facts([ann.id]))[ann.id].mark is None
    done = await loop.client.post(path, data={"csrf": token, "mark": "8"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=marked")
    by_dashboard = (await store.influence_facts([ann.id]))[ann.id]
    assert (by_dashboard.mark, by_dashboard.mark_source) == (8, "owner")
    assert await last_action(loop, f"customer:{public_id}") == (
        "set the influence mark to 8",
        "owner",
    )
    page = (await loop.client.get(done.headers["location"])).text
    assert "Influence mark saved" in page and 'value="8"' in page
    assert "set the influence mark to 8, by owner" in page
    assert await cli(loop, "customer", "mark", ANN, "--clear") == 0
    assert await cli(loop, "customer", "mark", ANN, "--influence", "8") == 0
    assert (await store.influence_facts([ann.id]))[ann.id] == by_dashboard  # the same
    await loop.client.post(path, data={"csrf": token, "mark": ""})
    assert (await store.influence_facts([ann.id]))[ann.id].mark is None


async def test_resubscribe_lifts_an_unsubscribe_but_never_a_bounce(loop: Loop) -> None:
    store, now = loop.services.store, loop.services.clock.now()
    ann = await customer(loop, name="Ann")
    bo = await customer(loop, "bo@example.com", name="Bo")
    await store.suppress(ANN, "unsubscribed", now)
    await store.suppress("bo@example.com", "hard_bounce", now)
    await login(loop.client)
    page = await loop.client.get(f"/admin/customers/{ann}")
    assert "No email goes to this address: unsubscribed" in page.text
    path = f"/admin/customers/{ann}/resubscribe"
    assert (await loop.client.post(path, data={})).status_code == 403
    assert await store.suppression_reason(ANN) == "unsubscribed"
    done = await loop.client.post(path, data={"csrf": field(page.text, "csrf")})
    assert done.status_code == 303
    assert await store.suppression_reason(ANN) is None
    assert await last_action(loop, f"customer:{ann}") == ("subscribed them again", "owner")
    refused = await loop.client.post(
        f"/admin/customers/{bo}/resubscribe", data={"csrf": field(page.text, "csrf")}
    )
    assert refused.status_code == 409 and "hard_bounce" in refused.text
    assert await store.suppression_reason("bo@example.com") == "hard_bounce"


async def test_notes_are_kept_with_who_and_when(loop: Loop) -> None:
    ann = await customer(loop, name="Ann")
    await named_users(loop)
    await log_in_as(loop.client, STAFF[0], STAFF[3])
    path = f"/admin/customers/{ann}/notes"
    assert (await loop.client.post(path, data={"note": "x"})).status_code == 403
    token = await csrf(loop.client, f"/admin/customers/{ann}")
    empty = await loop.client.post(path, data={"csrf": token, "note": "  "})
    assert empty.status_code == 422 and 'aria-describedby="e-note"' in empty.text
    loop.clock.advance(timedelta(hours=1))
    done = await loop.client.post(path, data={"csrf": token, "note": "Wants a quote <b>in May</b>"})
    assert done.status_code == 303
    page = (await loop.client.get(done.headers["location"])).text
    assert "Note kept" in page
    assert "Sue, <time" in page and "2 Mar 2026, 10:00" in page  # London time
    assert "Wants a quote &lt;b&gt;in May&lt;/b&gt;" in page
    assert await last_action(loop, f"customer:{ann}") == ("added a note", "Sue")


async def test_export_and_forget_are_the_clis_and_an_owners_alone(loop: Loop, env: None) -> None:
    ann = await customer(loop, name="Ann")
    await named_users(loop)
    await log_in_as(loop.client, STAFF[0], STAFF[3])
    token = await csrf(loop.client, f"/admin/customers/{ann}")
    await loop.client.post(f"/admin/customers/{ann}/notes", data={"csrf": token, "note": "VIP"})
    page = (await loop.client.get(f"/admin/customers/{ann}")).text
    assert "Forget this person" not in page and "Download their data" not in page
    for action in ("export", "forget"):
        staff = await loop.client.post(
            f"/admin/customers/{ann}/{action}", data={"csrf": token, "confirm": ANN}
        )
        assert staff.status_code == 403 and "Only an owner" in staff.text, action
    store = loop.services.store
    assert await store.customer_by_email(ANN) is not None

    owner = httpx.AsyncClient(transport=loop.client._transport, base_url="http://vouch.test")
    async with owner:
        await log_in_as(owner, OWNER[0], OWNER[3])
        token = await csrf(owner, f"/admin/customers/{ann}")
        assert (await owner.post(f"/admin/customers/{ann}/export", data={})).status_code == 403
        loop.clock.advance(timedelta(minutes=1))  # the latest action is the owner's
        download = await owner.post(f"/admin/customers/{ann}/export", data={"csrf": token})
        assert download.status_code == 200
        assert download.headers["content-disposition"] == (
            f'attachment; filename="person-{ann}.json"'
        )
        person = download.json()
        assert [(n["by"], n["text"]) for n in person["owner_notes"]] == [("Sue", "VIP")]
        assert await last_action(loop, f"customer:{ann}") == (
            "downloaded everything held about them",
            "Mike",
        )
        path = f"/admin/customers/{ann}/forget"
        for typed in ("", "bo@example.com"):
            wrong = await owner.post(path, data={"csrf": token, "confirm": typed})
            assert wrong.status_code == 422 and "Nothing was erased" in wrong.text
            assert 'aria-invalid="true" aria-describedby="e-confirm"' in wrong.text
        assert await store.customer_by_email(ANN) is not None
        loop.clock.advance(timedelta(minutes=1))
        gone = await owner.post(path, data={"csrf": token, "confirm": " Ann@Example.com "})
        assert (
            gone.status_code == 303
            and gone.headers["location"] == "/admin/customers?done=forgotten"
        )
        assert "Forgotten" in (await owner.get(gone.headers["location"])).text
    assert await store.customer_by_email(ANN) is None
    assert await last_action(loop, f"customer:{ann}") == ("forgot the person", "Mike")
    forgotten = await store.customer_by_public_id(ann)
    assert forgotten is not None and await store.notes_on_customer(forgotten.id) == []
    capsys_out = await asyncio.to_thread(_cli_out, loop, "forget", ANN)
    assert "nothing held about ann@example.com" in capsys_out  # the CLI sees the same erasure


def _cli_out(loop: Loop, *args: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--config", str(loop.services.config.path)]) == 0
    return out.getvalue()


async def test_the_download_is_what_vouch_export_person_prints(loop: Loop, env: None) -> None:
    ann = await customer(loop, name="Ann", tags=["deck"])
    await login(loop.client)
    token = await csrf(loop.client, f"/admin/customers/{ann}")
    await loop.client.post(f"/admin/customers/{ann}/notes", data={"csrf": token, "note": "Hi"})
    download = await loop.client.post(f"/admin/customers/{ann}/export", data={"csrf": token})
    printed = await asyncio.to_thread(_cli_out, loop, "export-person", ANN)
    assert download.json() == json.loads(printed)
    assert download.json()["owner_notes"][0]["text"] == "Hi"


# referrals --------------------------------------------------------------------------------------


async def test_won_and_lost_ask_first_and_a_mistake_is_reopened_within_the_window(
    loop: Loop,
) -> None:
    seeded = await seed(loop.services, loop.client)
    await loop.run()
    loop.new_mail()
    await login(loop.client)
    store = loop.services.store
    first = seeded.referrals[0]
    page = f"/admin/referrals/{first}"
    token = await csrf(loop.client, page)
    asked = {"csrf": token, "status": "lost", "note": "Went with another firm", "back": page}
    sure = await loop.client.post(f"{page}/status", data=asked)
    assert sure.status_code == 200 and f"Mark the referral of {FRIENDS[0][0]} as lost?" in sure.text
    assert 'value="Went with another firm"' in sure.text and f'href="{page}"' in sure.text
    referral = await store.referral(first)
    assert referral is not None and referral.status == "new"
    lost = await loop.client.post(f"{page}/status", data={**asked, "confirmed": "yes"})
    assert lost.status_code == 303
    assert (await store.referral(first)).status == "lost"  # type: ignore[union-attr]
    shown = (await loop.client.get(page)).text
    assert f'action="{page}/reopen"' in shown
    assert (await loop.client.post(f"{page}/reopen", data={})).status_code == 403
    loop.clock.advance(timedelta(days=6))
    await login(loop.client)  # a session lasts 12 hours
    token = await csrf(loop.client, page)
    reopened = await loop.client.post(f"{page}/reopen", data={"csrf": token, "back": page})
    assert reopened.status_code == 303 and reopened.headers["location"] == f"{page}?done=reopened"
    assert (await store.referral(first)).status == "new"  # type: ignore[union-attr]
    assert await last_action(loop, f"referral:{first}") == ("reopened (back to new)", "owner")
    assert "Referral reopened" in (await loop.client.get(reopened.headers["location"])).text
    await loop.run()
    assert loop.new_mail() == []  # the advocate is not told of a correction
    # lost again, then noticed too late
    again = {**asked, "csrf": token, "confirmed": "yes"}
    assert (await loop.client.post(f"{page}/status", data=again)).status_code == 303
    loop.clock.advance(timedelta(days=7, minutes=1))
    await login(loop.client)
    token = await csrf(loop.client, page)
    late = await loop.client.get(page)
    assert "Cannot be reopened: it was marked lost on 2026-03-08, more than 7 days ago" in late.text
    assert f'action="{page}/reopen"' not in late.text
    refused = await loop.client.post(f"{page}/reopen", data={"csrf": token})
    assert refused.status_code == 409 and "more than 7 days ago" in refused.text
    assert (await store.referral(first)).status == "lost"  # type: ignore[union-attr]


async def test_a_win_reopened_withdraws_its_reward_not_given(loop: Loop) -> None:
    seeded = await seed(loop.services, loop.client)
    await login(loop.client)
    store = loop.services.store
    first = seeded.referrals[0]
    page = f"/admin/referrals/{first}"
    token = await csrf(loop.client, page)
    won = {"csrf": token, "status": "won", "value": "900", "confirmed": "yes", "back": page}
    assert (await loop.client.post(f"{page}/status", data=won)).status_code == 303
    referral = await store.referral(first)
    assert referral is not None
    reward = await store.reward_of_referral(referral.id)
    assert reward is not None and reward.state == "awaiting_code"
    assert (await loop.client.post(f"{page}/reopen", data={"csrf": token})).status_code == 303
    assert await store.reward_of_referral(referral.id) is None
    assert (await store.referral(first)).status == "new"  # type: ignore[union-attr]
    # won again, its reward approved and given: the win stands
    assert (await loop.client.post(f"{page}/status", data=won)).status_code == 303
    await load_codes(loop, token, b"CODE-1\n")
    assert (
        await loop.client.post(f"{page}/reward/approve", data={"csrf": token})
    ).status_code == 303
    refused = await loop.client.post(f"{page}/reopen", data={"csrf": token})
    assert refused.status_code == 409 and "a given reward cannot be taken back" in refused.text
    assert (await store.referral(first)).status == "won"  # type: ignore[union-attr]


async def test_a_referral_keeps_private_notes_apart_from_the_advocates(loop: Loop) -> None:
    seeded = await seed(loop.services, loop.client)
    await loop.run()
    loop.new_mail()
    await login(loop.client)
    page = f"/admin/referrals/{seeded.referrals[1]}"
    token = await csrf(loop.client, page)
    assert (await loop.client.post(f"{page}/notes", data={"note": "x"})).status_code == 403
    done = await loop.client.post(f"{page}/notes", data={"csrf": token, "note": "Budget is tight"})
    assert done.status_code == 303
    shown = (await loop.client.get(done.headers["location"])).text
    assert "Budget is tight" in shown and "owner, <time" in shown
    assert await last_action(loop, f"referral:{seeded.referrals[1]}") == ("added a note", "owner")
    await loop.run()
    assert loop.new_mail() == []  # nothing goes to the advocate


# rewards ----------------------------------------------------------------------------------------


async def load_codes(
    loop: Loop, token: str, data: bytes, name: str = "codes.txt"
) -> httpx.Response:
    return await loop.client.post(
        "/admin/rewards/codes", data={"csrf": token}, files={"codes": (name, data, "text/plain")}
    )


async def test_the_reward_queue_loads_codes_and_approves(
    loop: Loop, tmp_path: Path, env: None
) -> None:
    seeded = await seed(loop.services, loop.client)
    await login(loop.client)
    store = loop.services.store
    for public_id in seeded.referrals[:2]:
        page = f"/admin/referrals/{public_id}"
        token = await csrf(loop.client, page)
        won = {"csrf": token, "status": "won", "confirmed": "yes"}
        assert (await loop.client.post(f"{page}/status", data=won)).status_code == 303
    queue = await loop.client.get("/admin/rewards")
    assert queue.status_code == 200
    assert queue.text.count("waiting for a code from your pool") == 2
    assert 'role="region" tabindex="0" aria-label="Rewards waiting"' in queue.text
    token = field(queue.text, "csrf")
    # a bad file loads nothing, and says what the CLI says
    bad = b"# codes\nCODE-1\nCODE\x07-2\n" + b"X" * 101 + b"\n"
    refused = await load_codes(loop, token, bad, "spring.txt")
    assert refused.status_code == 422 and "Nothing was loaded" in refused.text
    problems = re.findall(r"<li>(spring\.txt line \d+: [^<]+)</li>", refused.text)
    assert [p.split(":")[0] for p in problems] == ["spring.txt line 3", "spring.txt line 4"]
    assert 'aria-invalid="true" aria-describedby="e-codes"' in refused.text
    assert (await store.waiting_rewards(10))[0] == 0
    (tmp_path / "spring.txt").write_bytes(bad)
    err = await asyncio.to_thread(_cli_err, loop, "reward", "load", str(tmp_path / "spring.txt"))
    said = err.replace(f"{tmp_path}/", "").splitlines()
    assert said == [*(f"error: {p}" for p in problems), "nothing was loaded"]
    assert (await load_codes(loop, token, b"\xff\xfe")).status_code == 422
    assert (await load_codes(loop, "forged", b"CODE-1\n")).status_code == 403
    assert (await store.waiting_rewards(10))[0] == 0
    # a good one: each waiting reward gets a code, then waits for approval
    loaded = await load_codes(loop, token, b"# spring\nCODE-1\nCODE-2\nCODE-3\nCODE-1\n")
    assert loaded.status_code == 303
    after = await loop.client.get(loaded.headers["location"])
    assert "3 new codes in the pool (4 in the file)" in after.text
    assert await last_action(loop, "rewards:codes") == ("loaded 3 reward codes", "owner")
    free, waiting = await store.waiting_rewards(10)
    assert free == 1 and [w.state for w in waiting] == ["awaiting_approval"] * 2
    first = waiting[0].referral
    loop.clock.advance(timedelta(minutes=1))  # after the win, as the latest action
    approve = re.search(
        rf'<form method="post" action="(/admin/referrals/{first}/reward/approve)">\s*'
        r'<input type="hidden" name="csrf" value="[^"]+">\s*'
        r'<input type="hidden" name="back" value="(/admin/rewards)">',
        after.text,
    )
    assert approve is not None
    done = await loop.client.post(approve[1], data={"csrf": token, "back": approve[2]})
    assert done.headers["location"] == "/admin/rewards?done=approved"
    assert [w.referral for w in (await store.waiting_rewards(10))[1]] == [waiting[1].referral]
    assert await last_action(loop, f"referral:{first}") == ("approved the reward", "owner")
    (tmp_path / "more.txt").write_text("CODE-3\nCODE-4\n")
    assert await cli(loop, "reward", "load", str(tmp_path / "more.txt")) == 0
    assert (await store.waiting_rewards(10))[0] == 2  # the same pool


def _cli_err(loop: Loop, *args: str) -> str:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main([*args, "--config", str(loop.services.config.path)]) == 2
    return err.getvalue()
