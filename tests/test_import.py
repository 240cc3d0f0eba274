"""`vouch import`: CSV files of customers, purchases and projects into a real store, through the
same intake as the API; checked line by line, idempotent, streamed in bounded memory."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop

from daemon.cli import main
from daemon.config import Config
from daemon.owner.importer import CsvFile, LineError, Options, Tally, import_file, kind_of
from daemon.run.scheduler import Scheduler
from daemon.run.services import Services

from helpers import ENV, query, stored_time, write_business


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out, delimiter=delimiter).writerows(rows)
    return path


async def do_import(
    services: Services, path: Path, kind: str, **options: Any
) -> tuple[Tally, list[str]]:
    """The import as the command runs it, with the test's fake clock."""
    errors: list[LineError] = []
    opts = Options(kind, **options)
    with CsvFile(path, kind) as source:
        tally = await import_file(
            source,
            opts,
            services.config,
            services.clock.now(),
            None if opts.dry_run else services,
            errors.append,
        )
    return tally, [str(e) for e in errors]


def counts(store: Any) -> dict[str, int]:
    return {
        table: query(store, f"SELECT count(*) FROM {table}")[0][0]
        for table in ("customers", "events", "invitations", "asks", "outbox")
    }


def table(store: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the store (a SQLite file's config: its path)."""
    return query(store.store_path if isinstance(store, Config) else store, sql)


# customers -------------------------------------------------------------------------------------


async def test_customers_with_aliases_and_again_changes_nothing(
    services: Services, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "customers.csv",
        [
            ["E-Mail", "Full Name", "Time Zone", "Language", "Tags", "Customer ID", "Notes"],
            ["Ann@Example.com", "Ann Lee", "Europe/Paris", "fr-FR", "vip; kitchen", "c-1", "x"],
            ["bo@example.com", "Bo", "", "", "", "", ""],
        ],
    )
    tally, errors = await do_import(services, path, "customers")
    assert errors == []
    assert (tally.lines, tally.new, tally.updated, tally.bad) == (2, 2, 0, 0)
    assert tally.ignored == ["Notes"]
    ann = await services.store.customer_by_email("ann@example.com")
    assert ann is not None
    assert (ann.name, ann.timezone, ann.locale, ann.tags, ann.external_id) == (
        "Ann Lee",
        "Europe/Paris",
        "fr-FR",
        ("kitchen", "vip"),
        "c-1",
    )
    before = table(services.store, "SELECT * FROM customers ORDER BY id")

    tally, errors = await do_import(services, path, "customers")
    assert (tally.new, tally.updated, tally.unchanged, errors) == (0, 0, 2, [])
    assert table(services.store, "SELECT * FROM customers ORDER BY id") == before  # untouched

    write_csv(path, [["email", "name"], ["bo@example.com", "Bo Berg"]])
    tally, _ = await do_import(services, path, "customers")
    assert (tally.new, tally.updated) == (0, 1)
    bo = await services.store.customer_by_email("bo@example.com")
    assert bo is not None and bo.name == "Bo Berg"


def test_exported_customers_import_back_unchanged_with_their_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vouch export customers` writes tags as `vouch import` reads them: the file goes back
    in without touching anyone, tags exactly as they were (separators and quotes inside)."""
    config = write_business(tmp_path / "biz")
    tags = {
        "ann@example.com": ["architect", "kitchen"],
        "bo@example.com": ["bath, en suite", 'say "hi"', "a|b; c"],
        "cy@example.com": ['["x"]'],  # reads like the JSON form: written as JSON itself
        "di@example.com": [],
    }
    for email, its_tags in tags.items():
        who = ["--email", email, "--name", "N", "--external-id", f"x-{email[:2]}"]
        where = ["--timezone", "Europe/Paris", "--locale", "fr-CA", "--config", str(config)]
        extra = [a for t in its_tags for a in ("--tag", t)]
        assert main(["event", "lead.created", *who, *where, *extra]) == 0
    before = table(load(config), "SELECT * FROM customers ORDER BY id")
    assert [json.loads(row[0]) for row in table(load(config), "SELECT tags FROM customers")] == [
        sorted(t) for t in tags.values()
    ]
    out = tmp_path / "customers.csv"
    assert main(["export", "customers", "--out", str(out), "--config", str(config)]) == 0
    with out.open(newline="", encoding="utf-8") as file:
        assert [row["tags"] for row in csv.DictReader(file)] == [
            "architect; kitchen",  # the form an owner writes
            '["a|b; c", "bath, en suite", "say \\"hi\\""]',  # separators inside: a JSON list
            '["[\\"x\\"]"]',
            "",
        ]
    capsys.readouterr()

    assert main(["import", "customers", str(out), "--config", str(config)]) == 0
    assert "4 lines: 0 new, 0 updated, 4 unchanged, 0 bad" in capsys.readouterr().out
    assert table(load(config), "SELECT * FROM customers ORDER BY id") == before


async def test_customers_bad_and_repeated_lines_are_listed_the_rest_imported(
    services: Services, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "people.csv",
        [
            ["email", "name", "timezone"],
            ["ann@example.com", "Ann", "Europe/London"],
            ["not-an-address", "Cy", ""],
            ["", "Di", ""],
            ["ANN@example.com", "Ann again", ""],
            ["eve@example.com", "Eve", "Mars/Olympus"],
            ["fay@example.com", "Fay"],
            ["", "", ""],  # a blank line is skipped, not bad
            ["gus@example.com", "Gus", ""],
        ],
    )
    tally, errors = await do_import(services, path, "customers")
    assert errors == [
        "line 3, column 'email': 'not-an-address': An email address must have an @-sign.",
        "line 4, column 'email': empty: a value is required",
        "line 5, column 'email': the same address as line 2",
        "line 6, column 'timezone': 'Mars/Olympus': unknown time zone",
        "line 7: 2 fields, but the header has 3",
    ]
    assert (tally.lines, tally.new, tally.bad) == (7, 2, 5)
    assert counts(services.store)["customers"] == 2


async def test_an_influence_column_marks_customers(services: Services, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "customers.csv",
        [
            ["email", "name", "influence"],
            ["ann@example.com", "Ann", "8"],
            ["bo@example.com", "Bo", ""],
            ["cy@example.com", "Cy", "11"],
        ],
    )
    tally, errors = await do_import(services, path, "customers")
    assert errors == [
        "line 4, column 'influence': influence must be a whole number from 0 to 10, got '11'"
    ]
    assert (tally.new, tally.bad) == (2, 1)
    marks = (
        "SELECT c.email, m.mark, m.source FROM influence_marks m "
        "JOIN customers c ON c.id = m.customer_id"
    )
    assert table(services.store, marks) == [("ann@example.com", 8, "import")]
    before = table(services.store, "SELECT * FROM influence_marks")
    await do_import(services, path, "customers")
    assert table(services.store, "SELECT * FROM influence_marks") == before  # again: untouched


# headers ---------------------------------------------------------------------------------------


def test_a_wrong_header_stops_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz")
    path = write_csv(
        tmp_path / "orders.csv",
        [["Email", "Total"], ["ann@example.com", "12"]],
    )
    assert main(["import", "purchases", str(path), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "orders.csv: line 1: missing column 'date'" in err
    assert "purchase date" in err  # what it may be called
    assert "headers found: 'Email', 'Total'" in err
    assert not (tmp_path / "biz" / "var" / "vouch.sqlite3").exists()  # the store was not opened

    write_csv(path, [["Email", "E-mail", "date"], ["a@example.com", "b@example.com", "2024-01-01"]])
    assert main(["import", "purchases", str(path), "--config", str(config)]) == 2
    assert "columns 'Email' and 'E-mail' both mean email: keep one" in capsys.readouterr().err

    assert main(["import", str(path), "--config", str(config)]) == 2  # orders: which kind?
    assert "say which, e.g. vouch import purchases" in capsys.readouterr().err
    assert main(["import", "purchases", str(tmp_path / "nope.csv"), "--config", str(config)]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err
    assert not (tmp_path / "biz" / "var" / "vouch.sqlite3").exists()


def test_the_kind_comes_from_the_file_name() -> None:
    assert kind_of(Path("customers.csv")) == "customers"
    assert kind_of(Path("2025-Purchases.csv")) == "purchases"
    assert kind_of(Path("project-list.csv")) == "projects"
    assert kind_of(Path("customer_purchases.csv")) is None  # two kinds: say which
    assert kind_of(Path("orders.csv")) is None


# purchases and projects ------------------------------------------------------------------------


def test_purchase_lines_checked_by_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz")
    path = write_csv(
        tmp_path / "purchases.csv",
        [
            ["Order ID", "E-mail", "Name", "Date", "Total", "Currency"],
            ["A-1", "ann@example.com", "Ann", "2024-01-10", "120.50", "eur"],
            ["A-2", "bo@example", "Bo", "2024-01-11", "20", "EUR"],
            ["A-3", "cy@example.com", "Cy", "10/01/2024", "20", "EUR"],
            ["A-1", "di@example.com", "Di", "2024-01-12", "20", "EUR"],
            ["A-5", "", "Eve", "2024-01-12", "12,50", "EURO"],
            ["A-6", "fay@example.com", "Fay", "", "", ""],
            ["A-7", "gus@example.com", "Gus", "2024-01-13T15:30:00+01:00", "", ""],
        ],
        delimiter=";",  # as a spreadsheet in many countries writes it
    )
    assert main(["import", str(path), "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "purchases.csv: line 3, column 'E-mail': 'bo@example': The part after the @-sign is "
        "not valid. It should have a period.",
        "purchases.csv: line 4, column 'Date': not a date: '10/01/2024' (write 2026-03-02, or "
        "2026-03-02T14:30 with an optional offset such as +01:00; for 03/02/2026 set "
        "[import] date_format or --date-format)",
        "purchases.csv: line 5, column 'Order ID': the same order_id as line 2",
        "purchases.csv: line 6, column 'E-mail': empty: a value is required",
        "purchases.csv: line 6, column 'Total': not a number: '12,50' (write it like 1250.50)",
        "purchases.csv: line 6, column 'Currency': not a currency code: 'EURO' (three letters, "
        "e.g. EUR)",
        "purchases.csv: line 7, column 'Date': empty: a value is required",
    ]
    assert "purchases.csv: 7 lines: 2 new, 0 already recorded, 5 bad" in out
    rows = table(
        load(config), "SELECT id, type, occurred_at, json_extract(payload, '$.data') FROM events"
    )
    assert sorted(rows) == [
        (
            "import:purchases:A-1",
            "purchase.completed",
            int(datetime(2024, 1, 10, tzinfo=UTC).timestamp() * 1000),  # midnight in London
            '{"order_id":"A-1","amount":120.5,"currency":"EUR"}',
        ),
        (
            "import:purchases:A-7",
            "purchase.completed",
            int(datetime(2024, 1, 13, 14, 30, tzinfo=UTC).timestamp() * 1000),
            '{"order_id":"A-7"}',
        ),
    ]


def load(path: Path) -> Config:
    from daemon.config import load_config

    return load_config(path, ENV)


async def test_the_same_file_twice_changes_nothing(services: Services, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "projects.csv",
        [
            ["email", "name", "completed at", "title"],  # no id column: the line is its id
            ["ann@example.com", "Ann", "2026-02-27", "Loft"],
            ["bo@example.com", "Bo", "2026-02-26", "Kitchen"],
            ["bo@example.com", "Bo", "2026-02-26", "Kitchen"],
            ["bo@example.com", "Bo", "2026-02-27", "Bathroom"],
        ],
    )
    tally, errors = await do_import(services, path, "projects")
    assert errors == ["line 4: the same project as line 3 (address, date and values)"]
    assert (tally.new, tally.bad) == (3, 1)
    await Scheduler(services).tick()
    before = counts(services.store)
    assert (before["customers"], before["events"]) == (2, 3)

    tally, errors = await do_import(services, path, "projects")
    assert (tally.new, tally.unchanged, tally.bad) == (0, 3, 1)
    await Scheduler(services).tick()
    assert counts(services.store) == before

    write_csv(  # the same project with a different title is not the same line
        path, [["email", "completed at", "title"], ["ann@example.com", "2026-02-27", "Attic"]]
    )
    tally, _ = await do_import(services, path, "projects")
    assert tally.new == 1
    write_csv(  # an order id once imported cannot change what it says
        path := tmp_path / "purchases.csv",
        [["order", "email", "date", "amount"], ["7", "ann@example.com", "2026-02-27", "10"]],
    )
    assert (await do_import(services, path, "purchases"))[0].new == 1
    write_csv(
        path, [["order", "email", "date", "amount"], ["7", "ann@example.com", "2026-02-27", "11"]]
    )
    tally, errors = await do_import(services, path, "purchases")
    assert (tally.new, tally.bad) == (0, 1)
    assert errors == [
        "line 2: imported before with different values (event id 'import:purchases:7'); "
        "correct the line, or give it a new id"
    ]


def dry_run_file(path: Path) -> Path:
    return write_csv(
        path, [["email", "date"], ["ann@example.com", "2026-02-27"], ["bad", "2026-02-27"]]
    )


async def test_dry_run_writes_nothing(services: Services, tmp_path: Path) -> None:
    path = dry_run_file(tmp_path / "purchases.csv")
    before = counts(services.store)
    tally, errors = await do_import(services, path, "purchases", dry_run=True)
    assert (tally.good, tally.bad, len(errors)) == (1, 1, 1)
    assert counts(services.store) == before


def test_dry_run_does_not_open_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz")
    path = dry_run_file(tmp_path / "purchases.csv")
    assert main(["import", str(path), "--dry-run", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert "2 lines: 1 good (dry run: nothing written), 1 bad" in out
    assert not (tmp_path / "biz" / "var").exists()  # not even an empty store


async def test_a_past_purchase_gets_no_survey_a_recent_one_does(
    services: Services, tmp_path: Path
) -> None:
    # now is Monday 2 March 2026; post_purchase: 3 days' delay, then 30 days' life
    path = write_csv(
        tmp_path / "purchases.csv",
        [
            ["order", "email", "date"],
            ["old", "ann@example.com", "2026-01-27"],  # 34 days ago: its survey's life is over
            ["new", "bo@example.com", "2026-02-27"],
        ],
    )
    tally, _ = await do_import(services, path, "purchases")
    assert (tally.new, tally.past) == (2, 1)
    await Scheduler(services).tick()
    rows = table(
        services.store,
        "SELECT event_id, state, reason, due_at FROM invitations ORDER BY event_id",
    )
    rows = [(*row[:3], None if row[3] is None else stored_time(row[3])) for row in rows]
    assert rows == [
        (
            "import:purchases:new",
            "sent",  # due at once: Monday 09:00 in London, inside the send window
            None,
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ),
        (
            "import:purchases:old",
            "skipped",
            "the event is older than the survey's life (30 days after its 3-day delay)",
            None,
        ),
    ]
    assert table(services.store, "SELECT kind, recipient FROM outbox") == [
        ("survey", "bo@example.com")
    ]


async def test_survey_history_surveys_past_purchases_now_once_a_customer(
    services: Services, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "purchases.csv",
        [
            ["order", "email", "date"],
            ["1", "ann@example.com", "2025-05-01"],
            ["2", "ann@example.com", "2025-09-01"],
            ["3", "bo@example.com", "2024-11-20"],
        ],
    )
    tally, _ = await do_import(services, path, "purchases", survey_history=True)
    assert (tally.new, tally.past) == (3, 3)
    await Scheduler(services).tick()
    rows = table(services.store, "SELECT event_id, state, reason FROM invitations ORDER BY 1")
    assert [r[:2] for r in rows] == [
        ("import:purchases:1", "sent"),  # now, in the send window, not in 2025
        ("import:purchases:2", "skipped"),  # the throttle: one survey a customer
        ("import:purchases:3", "sent"),
    ]
    assert str(rows[1][2]).startswith("throttled")

    # the same file without the flag (or with it, again) records nothing and changes nothing
    before = counts(services.store)
    for survey_history in (False, True):
        tally, errors = await do_import(services, path, "purchases", survey_history=survey_history)
        assert (tally.new, tally.unchanged, errors) == (0, 3, [])
    assert counts(services.store) == before


async def test_a_past_project_is_no_referral_moment(loop: Loop, tmp_path: Path) -> None:
    for email in ("ann@example.com", "bo@example.com"):  # two promoters
        answer = await loop.client.post(
            "/v1/responses",
            json={
                "customer": {"email": email},
                "survey": "post_purchase",
                "score": 10,
                "answered_at": "2026-03-02T09:00:00Z",
            },
            headers=AUTH,
        )
        assert answer.status_code == 202, answer.text
    path = write_csv(
        tmp_path / "projects.csv",
        [
            ["job", "email", "date"],
            ["J-1", "ann@example.com", "2025-06-30T12:00:00Z"],
            ["J-2", "bo@example.com", "2026-03-01"],
        ],
    )
    await do_import(loop.services, path, "projects")
    await loop.run()
    store = loop.services.store
    found = {}
    for email in ("ann@example.com", "bo@example.com"):
        customer = await store.customer_by_email(email)
        assert customer is not None
        found[email] = [(a.moment, a.state, a.reason) for a in await store.asks_of(customer.id)]
    assert found == {
        "ann@example.com": [
            ("project_completed", "skipped", "the moment is past: it happened on 2025-06-30")
        ],
        "bo@example.com": [("project_completed", "scheduled", None)],
    }


# size ------------------------------------------------------------------------------------------


def peak_rss(args: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """Run `vouch` in its own process; its exit code, output and peak resident memory (MB)."""
    out, err = cwd / "out.txt", cwd / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon", *args],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, **ENV},
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out.read_text(), err.read_text(), usage.ru_maxrss / 1024


def purchases_file(path: Path, lines: int) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "email", "name", "date", "amount"])
        for n in range(lines):
            customer = n % 2000
            writer.writerow(
                [
                    f"{lines}-{n}",
                    f"c{customer}@example.com",
                    f"Customer {customer}",
                    f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
                    f"{n % 500}.50",
                ]
            )
    return path


@pytest.mark.slow
def test_fifty_thousand_lines_in_bounded_memory(tmp_path: Path) -> None:
    config = write_business(tmp_path / "biz")
    small = purchases_file(tmp_path / "purchases-small.csv", 1_000)
    large = purchases_file(tmp_path / "purchases-large.csv", 50_000)
    common = ["import", "--config", str(config), "--progress"]
    code, out, err, baseline = peak_rss([*common, str(small)], tmp_path)
    assert code == 0, err
    code, out, err, peak = peak_rss([*common, str(large)], tmp_path)
    assert code == 0, err
    assert "purchases-large.csv: 50000 lines: 50000 new, 0 already recorded, 0 bad" in out
    assert "importing purchases from purchases-large.csv" in err and "100%" in err  # the bar
    assert table(load(config), "SELECT count(*) FROM events") == [(51_000,)]
    assert table(load(config), "SELECT count(*) FROM customers") == [(2_000,)]
    # Fifty times the lines, about the same memory: the file is streamed a batch at a time
    # (measured: 64 MB for 1,000 lines, 73 MB for 50,000; loading it whole would take >150 MB).
    assert peak - baseline < 25, (baseline, peak)


def test_no_progress_bar_unless_asked_or_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_business(tmp_path / "biz")
    path = purchases_file(tmp_path / "purchases.csv", 10)
    assert main(["import", str(path), "--config", str(config)]) == 0
    assert capsys.readouterr().err == ""  # captured output is no terminal
    assert main(["import", str(path), "--config", str(config), "--progress"]) == 0
    assert "importing purchases from purchases.csv" in capsys.readouterr().err
