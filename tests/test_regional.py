"""Regional settings (issue 14, item 2): amounts in the business's currency and locale, import
dates as the owner writes them, exports in the business's time zone. The real app, store, CLI
and SMTP server, a fake clock: a deck builder in Chicago (USD, en-US) and a builder in London
(GBP, en-GB)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.money import money_in

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
    reports = await loop.client.get("/admin/reports")
    assert f'<td class="num">{written}</td>' in reports.text  # the champion's value won

    # `vouch report referrals`: table, CSV and JSON
    capsys.readouterr()
    assert await cli("report", "referrals", loop=loop) == 0
    table = capsys.readouterr().out
    assert f"1 won, {written} value won." in table
    assert f"- 3 referrals so far: 1 won, worth {written}." in table  # in words first
    assert await cli("report", "referrals", "--format", "csv", loop=loop) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    column = rows[0].index(f"value_won ({code})")
    assert [r[column] for r in rows[1:] if r[column] != "0.0"] == ["1250.0"]
    assert await cli("report", "referrals", "--format", "json", loop=loop) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["currency"], data["totals"]["value_won"]) == (code, 1250.0)

    # `vouch report offers` and `vouch report partners`
    assert await cli("report", "offers", loop=loop) == 0
    assert f"1    {written}     0 100.0%" in capsys.readouterr().out  # the standard offer's win
    assert await cli("report", "offers", "--format", "json", loop=loop) == 0
    assert json.loads(capsys.readouterr().out)["currency"] == code
    assert await cli("report", "partners", "--format", "csv", loop=loop) == 0
    assert f"value_won ({code})" in capsys.readouterr().out.splitlines()[0]
    assert await cli("report", "partners", "--format", "json", loop=loop) == 0
    assert json.loads(capsys.readouterr().out)["currency"] == code

    # the same reports over the admin API say their currency too
    for path in ("/v1/referrals", "/v1/reports/offers", "/v1/reports/partners"):
        answer = await loop.client.get(path, headers=AUTH)
        assert answer.status_code == 200
        assert answer.json()["currency"] == code, path

    # the owner's digest the next days
    await loop.travel(timedelta(days=2))
    digests = [
        m
        for m in loop.mail()
        if m["To"].addresses[0].addr_spec == OWNER and "digest" in str(m["Subject"])
    ]
    texts = [text_of(m) for m in digests]
    assert any(f"(value {written})." in text for text in texts), texts


@pytest.mark.parametrize(
    ("currency", "locale", "written"),
    [
        ("USD", "en-US", "$1,250.50"),
        ("GBP", "en-GB", "£1,250.50"),
        ("EUR", "fr", "1\u202f250,50\xa0€"),  # the French way: narrow spaces, comma, sign after
        ("JPY", "en-US", "¥1,250"),  # a currency without minor units
        ("USD", "en-ZZ", "$1,250.50"),  # a region Babel does not know: the language's way
        ("USD", "zz", "$1,250.50"),  # nor the language: English
    ],
)
def test_money_follows_the_currency_and_the_locale(
    currency: str, locale: str, written: str
) -> None:
    assert money_in(currency, locale)(1250.5) == written


# import dates -----------------------------------------------------------------------------------


def imported(config: Path) -> dict[str, str]:
    """Each imported purchase's order id → when it happened, in UTC."""
    with sqlite3.connect(config.parent / "var" / "vouch.sqlite3") as db:
        rows = db.execute(
            "SELECT json_extract(payload, '$.data.order_id'), occurred_at FROM events"
        ).fetchall()
    return {
        order: datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="minutes")
        for order, ms in rows
    }


def purchases(path: Path, dates: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Order ID", "E-mail", "Purchased At", "Total"])
        for n, when in enumerate(dates, 1):
            writer.writerow([f"A-{n}", f"c{n}@example.com", when, "1250"])
    return path


DATES = ["02/03/2026", "13/02/2026", "02/28/2026 14:30", "2026-02-10", "2/3/26"]


def test_import_reads_month_first_dates_as_the_config_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """[import] date_format = "MM/DD/YYYY": 02/03/2026 is 3 February, at midnight in Chicago;
    a date that is not so written is refused, naming its line and column; ISO dates still read."""
    config = write_business(
        tmp_path / "biz", {"business": CHICAGO, "import": {"date_format": "MM/DD/YYYY"}}
    )
    path = purchases(tmp_path / "purchases.csv", DATES)
    assert main(["import", str(path), "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "purchases.csv: line 3, column 'Purchased At': '13/02/2026' is not MM/DD/YYYY (write "
        "e.g. 03/31/2026 or 03/31/2026 14:30)",
        "purchases.csv: line 6, column 'Purchased At': '2/3/26' is not MM/DD/YYYY (write e.g. "
        "03/31/2026 or 03/31/2026 14:30)",
    ]
    assert "5 lines: 3 new, 0 already recorded, 2 bad" in out
    assert imported(config) == {
        "A-1": "2026-02-03T06:00+00:00",  # midnight in Chicago (CST, UTC-6)
        "A-3": "2026-02-28T20:30+00:00",
        "A-4": "2026-02-10T06:00+00:00",
    }


def test_the_date_format_option_overrides_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--date-format DD/MM/YYYY: the same file, day first; nothing is guessed from the numbers."""
    config = write_business(
        tmp_path / "biz", {"business": LONDON, "import": {"date_format": "MM/DD/YYYY"}}
    )
    path = purchases(tmp_path / "purchases.csv", DATES)
    args = ["import", str(path), "--date-format", "DD/MM/YYYY", "--config", str(config)]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "purchases.csv: line 4, column 'Purchased At': '02/28/2026 14:30' is not DD/MM/YYYY "
        "(write e.g. 31/03/2026 or 31/03/2026 14:30)",
        "purchases.csv: line 6, column 'Purchased At': '2/3/26' is not DD/MM/YYYY (write e.g. "
        "31/03/2026 or 31/03/2026 14:30)",
    ]
    assert "5 lines: 3 new, 0 already recorded, 2 bad" in out
    assert imported(config) == {
        "A-1": "2026-03-02T00:00+00:00",  # 2 March, midnight in London (GMT)
        "A-2": "2026-02-13T00:00+00:00",
        "A-4": "2026-02-10T00:00+00:00",
    }


def test_iso_by_default_says_how_to_read_a_slashed_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz", {"business": CHICAGO})
    path = purchases(tmp_path / "purchases.csv", ["02/03/2026"])
    assert main(["import", str(path), "--dry-run", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (
        "purchases.csv: line 2, column 'Purchased At': not a date: '02/03/2026' (write "
        "2026-03-02, or 2026-03-02T14:30 with an optional offset such as +01:00; for 03/02/2026 "
        "set [import] date_format or --date-format)"
    )


def test_check_names_a_wrong_date_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz", {"import": {"date_format": "M/D/Y"}})
    assert main(["check", "--config", str(config)]) == 2
    assert (
        "config.toml: import.date_format: Input should be 'iso', 'MM/DD/YYYY' or 'DD/MM/YYYY', "
        'got "M/D/Y"'
    ) in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["import", "x.csv", "--date-format", "YYYY/MM/DD", "--config", str(config)])
    assert exited.value.code == 2


# exports ----------------------------------------------------------------------------------------


def read_export(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_exports_write_times_in_the_business_zone_and_import_back_unchanged(
    loop: Loop,
    region: tuple[dict[str, str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Monday 2 March 09:00 UTC is 03:00 in Chicago (CST) and 09:00 in London (GMT); 1 July
    09:00 UTC is 04:00 in Chicago (CDT) and 10:00 in London (BST): the export says so with each
    day's offset, and the file goes back in without changing anyone."""
    chicago = region[0] is CHICAGO
    await loop.event("purchase.completed", "ann@example.com", "2026-02-20T15:00:00Z")
    body = {
        "customer": {"email": "ann@example.com"},
        "survey": "post_purchase",
        "score": 9,
        "answered_at": "2026-03-01T15:30:00Z",
    }
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202

    loop.clock.advance(datetime(2026, 7, 1, 9, tzinfo=UTC) - loop.clock.now())
    await loop.event("purchase.completed", "bo@example.com", "2026-06-30T15:00:00Z", name="Bo")

    out = tmp_path / "customers.csv"
    assert await cli("export", "customers", "--out", str(out), loop=loop) == 0
    assert [c["created_at"] for c in read_export(out.read_text())] == (
        ["2026-03-02T03:00:00-06:00", "2026-07-01T04:00:00-05:00"]
        if chicago
        else ["2026-03-02T09:00:00+00:00", "2026-07-01T10:00:00+01:00"]
    )
    capsys.readouterr()
    assert await cli("export", "responses", loop=loop) == 0
    (response,) = read_export(capsys.readouterr().out)
    expected = "2026-03-01T09:30:00-06:00" if chicago else "2026-03-01T15:30:00+00:00"
    assert response["answered_at"] == expected

    assert await cli("import", "customers", str(out), loop=loop) == 0
    assert "2 lines: 0 new, 0 updated, 2 unchanged, 0 bad" in capsys.readouterr().out
