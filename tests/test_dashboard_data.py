"""Import and export in the dashboard, over HTTP through the real app, store and templates:
a CSV checked (nothing written) with `vouch import --dry-run`'s own per-line report, then
imported from the same checked file; each export downloaded as `vouch export` writes it.
Both an owner's alone, refused without the session's CSRF token, and recorded."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from loop import Loop, smtp_changes
from test_dashboard import csrf, login
from test_dashboard_tasks import OWNER, STAFF, last_action, log_in_as, named_users

from daemon.cli import main
from daemon.config import Config, load_config

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, field
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

PEOPLE = [
    ["email", "name", "timezone"],
    ["ann@example.com", "Ann", "Europe/London"],
    ["not-an-address", "Cy", ""],
    ["bo@example.com", "Bo", "Mars/Olympus"],
    ["cy@example.com", "Cy"],
    ["di@example.com", "Di", ""],
]


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    return load_config(
        write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def cli(loop: Loop, *args: str) -> tuple[int, str, str]:
    """`vouch ARGS` against the loop's config: exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--config", str(loop.services.config.path)])
    return code, out.getvalue(), err.getvalue()


def shown(page: str, element: str) -> list[str]:
    """The texts of the page's <li class="error-text"> lines, or its summary."""
    if element == "summary":
        found = page.split('<pre class="text" id="summary">', 1)[1].split("</pre>", 1)[0]
        return [html.unescape(found)]
    return [html.unescape(p.split("</li>")[0]) for p in page.split('<li class="error-text">')[1:]]


async def upload(
    client: httpx.AsyncClient, token: str, name: str, data: bytes, **form: str
) -> httpx.Response:
    return await client.post(
        "/admin/data/check",
        data={"csrf": token, **form},
        files={"file": (name, data, "text/csv")},
    )


async def test_a_file_is_checked_with_the_clis_report_then_imported(
    loop: Loop, env: None, tmp_path: Path
) -> None:
    data = csv_bytes(PEOPLE)
    (tmp_path / "people.csv").write_bytes(data)
    await login(loop.client)
    store = loop.services.store
    token = await csrf(loop.client, "/admin/data")
    refused = await loop.client.post(
        "/admin/data/check", files={"file": ("people.csv", data, "text/csv")}
    )
    assert refused.status_code == 403 and "Nothing was changed" in refused.text

    checked = await upload(loop.client, token, "people.csv", data, kind="customers")
    assert checked.status_code == 422  # bad lines: said, and what is good still importable
    code, out, err = await asyncio.to_thread(
        cli, loop, "import", "customers", str(tmp_path / "people.csv"), "--dry-run"
    )
    assert code == 2
    assert shown(checked.text, "lines") == err.splitlines()
    assert len(err.splitlines()) == 3 and "line 3, column 'email'" in err
    assert shown(checked.text, "summary") == [out.rstrip("\n")]
    assert "nothing written yet" in checked.text
    assert await store.customer_by_email("ann@example.com") is None  # a dry run

    held = field(checked.text, "token")
    assert "Import the 2 good lines" in checked.text
    loop.clock.advance(timedelta(minutes=5))
    assert (await loop.client.post("/admin/data/import", data={"token": held})).status_code == 403
    assert await store.customer_by_email("ann@example.com") is None
    done = await loop.client.post("/admin/data/import", data={"csrf": token, "token": held})
    assert done.status_code == 422  # the bad lines, said again
    assert "Imported people.csv" in done.text
    assert shown(done.text, "lines") == err.splitlines()
    assert "people.csv: 5 lines: 2 new, 0 updated, 0 unchanged, 3 bad" in done.text
    assert await store.customer_by_email("ann@example.com") is not None
    assert await store.customer_by_email("di@example.com") is not None
    assert await last_action(loop, "import:customers") == (
        "imported people.csv: 5 lines: 2 new, 0 updated, 0 unchanged, 3 bad",
        "owner",
    )
    again = await loop.client.post("/admin/data/import", data={"csrf": token, "token": held})
    assert again.status_code == 409 and "no longer waiting" in again.text
    code, out, _ = await asyncio.to_thread(
        cli, loop, "import", "customers", str(tmp_path / "people.csv")
    )
    assert "2 new" not in out and "0 new, 0 updated, 2 unchanged, 3 bad" in out  # the CLI agrees
    uploads = loop.services.config.store_path.parent / "uploads"
    assert list(uploads.iterdir()) == []  # nothing personal left behind


async def test_a_wrong_header_or_kind_is_said_and_nothing_kept(loop: Loop, env: None) -> None:
    await login(loop.client)
    token = await csrf(loop.client, "/admin/data")
    orders = csv_bytes([["Email", "Total"], ["ann@example.com", "12"]])
    wrong = await upload(loop.client, token, "orders.csv", orders, kind="purchases")
    assert wrong.status_code == 422
    assert "orders.csv: line 1: missing column &#39;date&#39;" in wrong.text
    assert 'aria-invalid="true" aria-describedby="e-file"' in wrong.text
    which = await upload(loop.client, token, "orders.csv", orders)
    assert which.status_code == 422 and 'aria-describedby="e-kind"' in which.text
    assert "Say what the file holds" in which.text
    none = await loop.client.post("/admin/data/check", data={"csrf": token})
    assert none.status_code == 422 and "Choose a CSV file." in none.text
    bad_date = await upload(loop.client, token, "customers.csv", orders, date_format="YY")
    assert bad_date.status_code == 422 and 'aria-describedby="e-date_format"' in bad_date.text
    uploads = loop.services.config.store_path.parent / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


async def test_a_checked_file_is_the_sessions_own_and_waits_an_hour(loop: Loop) -> None:
    await named_users(loop)
    await log_in_as(loop.client, OWNER[0], OWNER[3])
    token = await csrf(loop.client, "/admin/data")
    checked = await upload(loop.client, token, "customers.csv", csv_bytes(PEOPLE[:2]))
    assert checked.status_code == 200
    held = field(checked.text, "token")
    other = httpx.AsyncClient(transport=loop.client._transport, base_url="http://vouch.test")
    async with other:  # the same owner, another session
        await log_in_as(other, OWNER[0], OWNER[3])
        theirs = await csrf(other, "/admin/data")
        stolen = await other.post("/admin/data/import", data={"csrf": theirs, "token": held})
        assert stolen.status_code == 409
        late = await upload(other, theirs, "customers.csv", csv_bytes(PEOPLE[:2]))
        assert late.status_code == 200
        loop.clock.advance(timedelta(hours=2))  # the first check is tidied by the next
        await upload(other, theirs, "customers.csv", csv_bytes(PEOPLE[:2]))
    gone = await loop.client.post("/admin/data/import", data={"csrf": token, "token": held})
    assert gone.status_code == 409
    assert await loop.services.store.customer_by_email("ann@example.com") is None


async def test_each_export_is_what_vouch_export_writes(loop: Loop, env: None) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-01-10T10:00:00Z", name="Ann")
    await login(loop.client)
    token = await csrf(loop.client, "/admin/data")
    for what in ("responses", "referrals", "customers"):
        path = f"/admin/data/export/{what}"
        assert (await loop.client.post(path)).status_code == 403
        got = await loop.client.post(path, data={"csrf": token})
        assert got.status_code == 200, what
        assert got.headers["content-type"] == "text/csv; charset=utf-8"
        assert got.headers["content-disposition"].startswith(f'attachment; filename="{what}-')
        code, out, _ = await asyncio.to_thread(cli, loop, "export", what)
        assert code == 0 and got.text == out, what
        assert await last_action(loop, f"export:{what}") == (
            f"downloaded the {what} export",
            "owner",
        )
    assert "ann@example.com" in got.text
    nothing = await loop.client.post("/admin/data/export/secrets", data={"csrf": token})
    assert nothing.status_code == 404


async def test_import_and_export_are_an_owners_alone(loop: Loop) -> None:
    await named_users(loop)
    await log_in_as(loop.client, STAFF[0], STAFF[3])
    page = await loop.client.get("/admin")
    assert 'href="/admin/data"' not in page.text
    token = field(page.text, "csrf")
    assert (await loop.client.get("/admin/data")).status_code == 403
    staff = await upload(loop.client, token, "customers.csv", csv_bytes(PEOPLE[:2]))
    assert staff.status_code == 403 and "Only an owner" in staff.text
    export = await loop.client.post("/admin/data/export/customers", data={"csrf": token})
    assert export.status_code == 403
    assert await loop.services.store.customer_by_email("ann@example.com") is None
