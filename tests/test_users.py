"""Named dashboard users over HTTP and the CLI: the real app, store and templates, a fake clock.

The shared password logs in as the owner until the first user exists; users log in by email and
password (argon2id hashes, never the password); staff do the routine work but cannot manage
users; logging out, a password change and disabling end sessions on the server; and what a user
does from the dashboard is recorded and shown by their name.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from loop import Loop, smtp_changes

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.web.app import create_app

from dashboard_data import CONFIG_CHANGES, DETRACTOR, ENV_EXTRA, PASSWORD, field, seed
from helpers import ENV, merge, plant, query, write_business
from smtp_server import SmtpServer

OWNER = ("Mike Novak", "Mike@Acme.example", "mike-owns-the-deck-firm-1")
STAFF = ("Sara Lind", "sara@acme.example", "sara-answers-the-phone-22")


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    path = write_business(tmp_path / "biz", merge(smtp_changes(smtp_server), CONFIG_CHANGES))
    return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)


@pytest.fixture
async def other(loop: Loop) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same daemon (its own cookies)."""
    transport = httpx.ASGITransport(app=create_app(loop.services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as client:
        yield client


async def login(
    client: httpx.AsyncClient, password: str, email: str | None = None
) -> httpx.Response:
    form = await client.get("/admin/login")
    assert form.status_code == 200
    data = {"nonce": field(form.text, "nonce"), "next": "/admin", "password": password}
    if email is not None:
        data["email"] = email
    return await client.post("/admin/login", data=data)


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    """A form POSTed from the dashboard, with the session's CSRF token."""
    page = await client.get("/admin/account")
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf": field(page.text, "csrf"), **data})


async def cli(loop: Loop, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    config = str(loop.services.config.path)
    code: int = await asyncio.to_thread(main, [*args, "--config", config])
    return code


async def add_by_cli(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, who: tuple[str, ...], role: str
) -> None:
    name, email, password = who
    args = ("user", "add", email, "--name", name, "--role", role, "--password-stdin")
    assert await cli(loop, monkeypatch, *args, stdin=password + "\n") == 0


def stored(loop: Loop, sql: str) -> list[tuple[Any, ...]]:
    """Rows as the daemon wrote them to its SQLite file."""
    store = loop.services.store
    return query(store, sql)


def session_cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get("vouch_admin")
    assert value
    return value


async def replayed(loop: Loop, cookie: str) -> tuple[int, int]:
    """A GET and a POST (without its CSRF token) on a saved session cookie: (200, 403) while it
    is open, (303 to the login, 401) once it has ended."""
    transport = httpx.ASGITransport(app=create_app(loop.services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://vouch.test", cookies={"vouch_admin": cookie}
    ) as client:
        page = await client.get("/admin")
        if page.status_code == 303:
            assert page.headers["location"].startswith("/admin/login")
        change = await client.post("/admin/sending/resume", data={"csrf": "x"})
        return page.status_code, change.status_code


# the shared password and the first user ---------------------------------------------------------


async def test_the_shared_password_is_the_owner_until_the_first_user_added_in_the_dashboard(
    loop: Loop,
) -> None:
    assert (await login(loop.client, PASSWORD)).status_code == 303
    shared = session_cookie(loop.client)
    page = await loop.client.get("/admin/users")
    assert page.status_code == 200 and "No users yet" in page.text
    name, email, password = OWNER
    data = {"name": name, "email": email, "role": "owner", "password": password}
    added = await post(loop.client, "/admin/users", data)
    assert added.status_code == 303 and added.headers["location"] == "/admin/login"
    assert await replayed(loop, shared) == (303, 401)  # the shared session ended with it

    refused = await login(loop.client, PASSWORD)
    assert refused.status_code == 401
    assert "do not match a dashboard user" in refused.text
    assert (await login(loop.client, PASSWORD, "")).status_code == 401
    assert 'name="email"' in (await loop.client.get("/admin/login")).text

    assert (await login(loop.client, password, " MIKE@acme.example ")).status_code == 303
    page = await loop.client.get("/admin")
    assert page.status_code == 200 and name in page.text


async def test_the_first_user_must_be_an_owner(loop: Loop) -> None:
    await login(loop.client, PASSWORD)
    name, email, password = STAFF
    data = {"name": name, "email": email, "role": "staff", "password": password}
    refused = await post(loop.client, "/admin/users", data)
    assert refused.status_code == 422 and "the first user must be an owner" in refused.text
    assert stored(loop, "SELECT count(*) FROM users") == [(0,)]


async def test_a_user_added_by_the_cli_logs_in_with_an_argon2id_hash_stored(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    [(email, hashed)] = stored(loop, "SELECT email, password_hash FROM users")
    assert email == "mike@acme.example"
    assert hashed.startswith("$argon2id$") and OWNER[2] not in hashed
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    assert (await loop.client.get("/admin/users")).status_code == 200

    capsys.readouterr()
    assert await cli(loop, monkeypatch, "user", "list") == 0
    assert "mike@acme.example\tMike Novak\towner\tactive" in capsys.readouterr().out


async def test_the_cli_refuses_a_short_password_a_taken_email_and_no_terminal(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name, email, _ = OWNER
    add = ("user", "add", email, "--name", name, "--role", "owner")
    assert await cli(loop, monkeypatch, *add, "--password-stdin", stdin="short\n") == 2
    assert "password: must be at least 16 characters" in capsys.readouterr().err
    assert await cli(loop, monkeypatch, *add) == 2  # stdin is no terminal here
    assert "--password-stdin" in capsys.readouterr().err
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    assert await cli(loop, monkeypatch, *add, "--password-stdin", stdin=OWNER[2]) == 2
    assert "is already a user" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a password is never an argument
        main([*add, "--password", OWNER[2]])


async def test_a_hash_with_older_weaker_parameters_is_redone_at_the_next_login(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, other: httpx.AsyncClient
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    assert (await login(other, OWNER[2], OWNER[1])).status_code == 303
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(OWNER[2])
    store = loop.services.store
    plant(store, "UPDATE users SET password_hash = ?", (weak,))
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    [(hashed,)] = stored(loop, "SELECT password_hash FROM users")
    assert hashed != weak and hashed.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(hashed)
    assert (await other.get("/admin")).status_code == 200  # the same password: no one logged out


# roles ------------------------------------------------------------------------------------------


async def test_staff_cannot_reach_the_users_page_an_owner_can(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    await add_by_cli(loop, monkeypatch, STAFF, "staff")
    assert (await login(loop.client, STAFF[2], STAFF[1])).status_code == 303
    assert (await loop.client.get("/admin")).status_code == 200
    assert 'href="/admin/users"' not in (await loop.client.get("/admin")).text
    assert (await loop.client.get("/admin/users")).status_code == 403
    data = {"name": "Eve", "email": "eve@acme.example", "role": "owner", "password": "x" * 20}
    assert (await post(loop.client, "/admin/users", data)).status_code == 403
    disable = await post(loop.client, f"/admin/users/{OWNER[1].lower()}/disable", {})
    assert disable.status_code == 403
    assert stored(loop, "SELECT count(*) FROM users WHERE disabled_at IS NULL") == [(2,)]

    await post(loop.client, "/admin/logout", {})
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    page = await loop.client.get("/admin/users")
    assert page.status_code == 200 and STAFF[1] in page.text


# sessions end on the server ---------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    cookie = session_cookie(loop.client)
    assert await replayed(loop, cookie) == (200, 403)  # alive: the forged form is what is refused
    out = await post(loop.client, "/admin/logout", {})
    assert out.status_code == 303
    assert await replayed(loop, cookie) == (303, 401)


async def test_a_password_change_ends_the_users_other_sessions(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, other: httpx.AsyncClient
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    assert (await login(other, OWNER[2], OWNER[1])).status_code == 303
    elsewhere = session_cookie(other)
    new = "a-brand-new-passphrase-77"
    mismatch = {"current": OWNER[2], "password": new, "again": new + "x"}
    assert (await post(loop.client, "/admin/account/password", mismatch)).status_code == 422
    wrong = {"current": "not-my-password-at-all", "password": new, "again": new}
    assert (await post(loop.client, "/admin/account/password", wrong)).status_code == 422
    assert await replayed(loop, elsewhere) == (200, 403)

    right = {"current": OWNER[2], "password": new, "again": new}
    changed = await post(loop.client, "/admin/account/password", right)
    assert changed.status_code == 303
    assert await replayed(loop, elsewhere) == (303, 401)
    assert (await loop.client.get("/admin")).status_code == 200  # this one stays
    assert (await login(other, OWNER[2], OWNER[1])).status_code == 401
    assert (await login(other, new, OWNER[1])).status_code == 303

    again = session_cookie(other)  # the CLI's reset ends every session of the user
    args = ("user", "password", OWNER[1], "--password-stdin")
    assert await cli(loop, monkeypatch, *args, stdin="reset-by-the-cli-00000\n") == 0
    assert await replayed(loop, again) == (303, 401)
    assert (await loop.client.get("/admin")).status_code == 303


async def test_disabling_a_user_ends_their_sessions_and_their_logins(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, other: httpx.AsyncClient
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    await add_by_cli(loop, monkeypatch, STAFF, "staff")
    assert (await login(other, STAFF[2], STAFF[1])).status_code == 303
    staff = session_cookie(other)
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 303
    last = await post(loop.client, f"/admin/users/{OWNER[1].lower()}/disable", {})
    assert last.status_code == 422 and "the last owner" in last.text

    done = await post(loop.client, f"/admin/users/{STAFF[1]}/disable", {})
    assert done.status_code == 303 and done.headers["location"] == "/admin/users?done=disabled"
    assert await replayed(loop, staff) == (303, 401)
    assert (await login(other, STAFF[2], STAFF[1])).status_code == 401
    assert "disabled" in (await loop.client.get("/admin/users")).text


async def test_failed_logins_by_unknown_emails_lock_the_address_like_wrong_passwords(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    for n in range(5):
        assert (await login(loop.client, OWNER[2], f"nobody{n}@acme.example")).status_code == 401
    assert (await login(loop.client, OWNER[2], OWNER[1])).status_code == 429


# who did what -----------------------------------------------------------------------------------


async def test_what_a_user_does_is_recorded_and_shown_by_their_name(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed(loop.services, loop.client)
    await add_by_cli(loop, monkeypatch, OWNER, "owner")
    await add_by_cli(loop, monkeypatch, STAFF, "staff")
    assert (await login(loop.client, STAFF[2], STAFF[1])).status_code == 303
    [complaint] = await loop.services.store.open_complaint_list(10)
    resolved = await post(
        loop.client, f"/admin/complaints/{complaint.id}/resolve", {"note": "tiles replaced"}
    )
    assert resolved.status_code == 303
    moved = await post(
        loop.client, f"/admin/referrals/{seeded.referrals[0]}/status", {"status": "contacted"}
    )
    assert moved.status_code == 303

    partner = {
        "name": "Deck Oil Co",
        "email": "hi@deckoil.example",
        "trade": "oils",
        "wants": "decks",
    }
    assert (await post(loop.client, "/admin/partners", partner)).status_code == 303
    [(public_id,)] = stored(loop, "SELECT public_id FROM partners")

    rows = stored(loop, "SELECT by, action, item FROM admin_actions ORDER BY id")
    assert rows == [
        (STAFF[0], "resolved", f"complaint:{complaint.id}"),
        (STAFF[0], "moved to contacted", f"referral:{seeded.referrals[0]}"),
        (STAFF[0], "added", f"partner:{public_id}"),
    ]
    page = (await loop.client.get("/admin/referrals")).text
    assert f"moved to contacted by {STAFF[0]}" in page
    customer = await loop.services.store.customer_by_email(DETRACTOR[1])
    assert customer is not None
    story = (await loop.client.get(f"/admin/customers/{customer.public_id}")).text
    assert f"by {STAFF[0]}" in story


def test_the_start_up_line_says_users_log_in_once_there_are_some(loop_config: Config) -> None:
    from daemon.run.runtime import dashboard_line

    url = loop_config.settings.business.public_url
    assert dashboard_line(loop_config).endswith("(its password is in $VOUCH_DASHBOARD_PASSWORD)")
    assert (
        dashboard_line(loop_config, 2) == f"dashboard: {url}/admin (2 users, see vouch user list)"
    )
