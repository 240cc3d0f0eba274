"""Regional settings (issue 14, item 2): amounts in the business's currency and locale, import
dates as the owner writes them, exports in the business's time zone. The real app, store, CLI
and SMTP server, a fake clock: a deck builder in Chicago (USD, en-US) and a builder in London
(GBP, en-GB)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from loop import AUTH, Loop, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config, load_config

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field, seed
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

CHICAGO = {"timezone": "America/Chicago", "currency": "USD", "locale": "en-US"}
LONDON = {"timezone": "Europe/London", "currency": "GBP", "locale": "en-GB"}
OWNER = "owner@harborlane.example"


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=[(CHICAGO, "$1,250.00"), (LONDON, "£1,250.00")], ids=["chicago", "london"])
def region(request: pytest.FixtureRequest) -> tuple[dict[str, str], str]:
    """The business's regional settings, and how it writes 1250."""
    settings, written = request.param
    return settings, written


@pytest.fixture
def loop_config(
    tmp_path: Path, smtp_server: SmtpServer, region: tuple[dict[str, str], str]
) -> Config:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    changes = merge(changes, {"business": region[0], "digest": {"every": "daily", "at": "08:00"}})
    return load_config(write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA})


async def cli(*args: str, loop: Loop) -> int:
    """A `vouch` command on the running business's folder (beside the daemon, as an owner)."""
    config = str(loop.services.config.path)
    return await asyncio.to_thread(main, [*args, "--config", config])


# currency ---------------------------------------------------------------------------------------


async def test_a_won_value_is_shown_in_the_business_currency_everywhere(
    loop: Loop, region: tuple[dict[str, str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """1250 won on a referral: the dashboard, the reports and the owner's digest all write it
    in the business's currency and locale ("$1,250.00" in Chicago, "£1,250.00" in London)."""
    settings, written = region
    code = settings["currency"]
    seeded = await seed(loop.services, loop.client)
    await loop.travel(timedelta(hours=6))  # Monday 15:00 UTC: after the digest hour in both
    rid = seeded.referrals[0]
    for body in ({"status": "contacted"}, {"status": "won", "value": 1250}):
        moved = await loop.client.post(f"/v1/referrals/{rid}/status", json=body, headers=AUTH)
        assert moved.status_code == 200, moved.text

    # the dashboard
    form = await loop.client.get("/admin/login")
    login = {"nonce": field(form.text, "nonce"), "next": "/admin", "password": PASSWORD}
    assert (await loop.client.post("/admin/login", data=login)).status_code == 303
    page = await loop.client.get("/admin")
    assert page.status_code == 200
    assert f"worth {written}" in page.text  # the total won
    assert f'<td class="num">{written}</td>' in page.text  # the champion's value won

    # `vouch report referrals`: table, CSV and JSON
    capsys.readouterr()
    assert await cli("report", "referrals", loop=loop) == 0
    table = capsys.readouterr().out
    assert f"1 won, {written} value won." in table
    assert await cli("report", "referrals", "--format", "csv", loop=loop) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    column = rows[0].index(f"value_won ({code})")
    assert [r[column] for r in rows[1:] if r[column] != "0.0"] == ["1250.0"]
    assert await cli("report", "referrals", "--format", "json", loop=loop) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["currency"], data["totals"]["value_won"]) == (code, 1250.0)

    # `vouch report offers` and `vouch report partners`
    assert await cli("report", "offers", loop=loop) == 0
    assert f"1    {written} 100.0%" in capsys.readouterr().out  # the standard offer's win
    assert await cli("report", "offers", "--format", "json", loop=loop) == 0
    assert json.loads(capsys.readouterr().out)["currency"] == code
    assert await cli("report", "partners", "--format", "csv", loop=loop) == 0
    assert f"value_won ({code})" in capsys.readouterr().out.splitlines()[0]
    assert await cli("report", "partners", "--format", "json", loop=loop) == 0
    assert json.loads(capsys.readouterr().out)["currency"] == code

    # the owner's digest the next days
    await loop.travel(timedelta(days=2))
    digests = [
        m
        for m in loop.mail()
        if m["To"].addresses[0].addr_spec == OWNER and "digest" in str(m["Subject"])
    ]
    texts = [text_of(m) for m in digests]
    assert any(f"(value {written})." in text for text in texts), texts
