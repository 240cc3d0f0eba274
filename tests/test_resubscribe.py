"""Re-subscribing: the owner lifts an unsubscribe for exactly one address, recorded with who
and when; a bounce or a spam complaint stays. Through the real app (fake clock, real store,
real SMTP server) and the real `vouch` command."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from loop import AUTH, Loop, path_of

from daemon.cli import main
from daemon.store import SQLiteStore

from helpers import ENV, query, stored_time, write_business

ANN, JOANN, BO, CY = "ann@example.com", "joann@example.com", "bo@example.com", "cy@example.com"


def lifts(store: Any) -> list[tuple[str, str, str, datetime]]:
    rows = query(store, "SELECT address_hash, reason, by, at FROM resubscriptions ORDER BY id")
    return [(address, reason, by, stored_time(at)) for address, reason, by, at in rows]


def hashed(address: str) -> str:
    return "sha256:" + hashlib.sha256(address.encode()).hexdigest()


async def unsubscribe_by_page(loop: Loop, email: str) -> None:
    """A survey, then the one-click unsubscribe its List-Unsubscribe header carries."""
    await loop.event("purchase.completed", email, "2026-03-02T10:00:00Z", id=f"buy-{email}")
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == email]
    found = re.search(r"<(http[^>]+/u/[^>]+)>", survey["List-Unsubscribe"])
    assert found is not None
    answer = await loop.client.post(
        path_of(found.group(1)),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200


async def test_the_api_lifts_an_unsubscribe_of_exactly_that_address(loop: Loop) -> None:
    await unsubscribe_by_page(loop, ANN)
    await unsubscribe_by_page(loop, JOANN)  # a near miss: must stay unsubscribed
    store = loop.services.store
    await store.suppress(BO, "hard bounce: 5.1.1 mailbox unknown", loop.clock.now())
    await store.suppress(CY, "complaint (ARF abuse)", loop.clock.now())
    url = "/v1/customers/{}/resubscribe"

    assert (await loop.client.post(url.format(ANN))).status_code == 401  # admin token only
    loop.clock.advance(timedelta(days=1))
    lifted = await loop.client.post(url.format("Ann@Example.COM"), headers=AUTH)
    assert lifted.status_code == 200, lifted.text
    at = loop.clock.now()
    assert lifted.json() == {
        "address": ANN,
        "lifted": "unsubscribed",
        "suppressed_at": lifted.json()["suppressed_at"],
        "by": "api token",
        "at": at.isoformat(),
    }
    assert datetime.fromisoformat(lifted.json()["suppressed_at"]) < at
    assert await store.suppressed([ANN, JOANN, BO, CY]) == {JOANN, BO, CY}
    assert lifts(store) == [(hashed(ANN), "unsubscribed", "api token", at)]

    again = await loop.client.post(url.format(ANN), headers=AUTH)
    assert again.status_code == 404 and "not suppressed" in again.json()["error"]
    for address, why in ((BO, "hard bounce"), (CY, "complaint")):
        kept = await loop.client.post(url.format(address), headers=AUTH)
        assert kept.status_code == 409 and why in kept.json()["error"]
        assert "only an unsubscribe can be lifted" in kept.json()["error"]
    assert await store.suppressed([BO, CY]) == {BO, CY}
    bad = await loop.client.post(url.format("not-an-address"), headers=AUTH)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "email"
    assert len(lifts(store)) == 1

    # mail flows again: Ann's next purchase gets its survey, Joann's does not
    loop.clock.advance(timedelta(days=100))  # past the survey throttle
    for email in (ANN, JOANN):
        when = loop.clock.now().isoformat()
        await loop.event("purchase.completed", email, when, id=f"again-{email}")
    await loop.travel(timedelta(days=6))  # three days on, in a weekday's send window
    assert [m["To"].addresses[0].addr_spec for m in loop.new_mail()] == [ANN]


def test_vouch_resubscribe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_business(tmp_path / "biz")
    args = ["--config", str(config)]
    store_path = tmp_path / "biz" / "var" / "vouch.sqlite3"

    async def suppress() -> None:
        store = await SQLiteStore.open(store_path)
        now = datetime(2026, 3, 2, tzinfo=UTC)
        await store.suppress(ANN, "unsubscribed (by email)", now)
        await store.suppress(JOANN, "unsubscribed", now)
        await store.suppress(BO, "hard bounce: 5.1.1 mailbox unknown", now)
        await store.close()

    store_path.parent.mkdir(parents=True)
    asyncio.run(suppress())
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENV.items():
            env.setenv(name, value)
        env.setenv("USER", "dana")
        env.setenv("LOGNAME", "dana")
        assert main(["resubscribe", ANN, *args]) == 0
        out = capsys.readouterr().out
        assert "ann@example.com is subscribed again" in out and "cli:dana" in out
        assert main(["resubscribe", ANN, *args]) == 1
        assert "ann@example.com is not suppressed: nothing to lift" in capsys.readouterr().err
        assert main(["resubscribe", BO, *args]) == 1
        assert "hard bounce: 5.1.1 mailbox unknown" in capsys.readouterr().err
        assert main(["resubscribe", "nope", *args]) == 2
        assert "not an email address: 'nope'" in capsys.readouterr().err
    ((address, reason, by, at),) = lifts(SimpleNamespace(path=store_path))
    assert (address, reason, by) == (hashed(ANN), "unsubscribed (by email)", "cli:dana")
    assert at > datetime(2026, 1, 1, tzinfo=UTC)
    with sqlite3.connect(store_path) as db:
        left = sorted(r[0] for r in db.execute("SELECT email FROM suppressions"))
    assert left == [BO, JOANN]
