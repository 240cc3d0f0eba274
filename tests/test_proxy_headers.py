"""X-Forwarded-For is believed only from `server.trusted_proxies`, through the real server.

`vouch run` as the daemon runs it (daemon.run.runtime.Daemon: uvicorn serving the app on a loopback
port) on a fake clock, so no bucket refills and no lock expires during a test. The client is on
127.0.0.1, which uvicorn trusts for proxy headers unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from daemon.clock import FakeClock
from daemon.run.runtime import Daemon

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field
from helpers import ENV, merge, write_business

WRONG = "guess-guess-guess-guess"


@contextlib.asynccontextmanager
async def daemon(tmp_path: Path, server: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The daemon serving on a free loopback port, and a client of it."""
    changes = merge(CONFIG_CHANGES, {"server": {"public_burst": 2, "public_rate_per_minute": 1}})
    path = write_business(tmp_path, merge(changes, {"server": server}))
    vouch = Daemon(path, {**ENV, **ENV_EXTRA}, FakeClock())
    running = asyncio.create_task(vouch.run())
    try:
        async with asyncio.timeout(30):
            while not (hasattr(vouch, "server") and vouch.server.started):
                assert not running.done(), running.result()
                await asyncio.sleep(0.01)
        port = vouch.server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        vouch.stop()
        async with asyncio.timeout(30):
            await running


async def login(client: httpx.AsyncClient, password: str, forwarded_for: str) -> int:
    hop = {"X-Forwarded-For": forwarded_for}
    form = await client.get("/admin/login", headers=hop)
    data = {"nonce": field(form.text, "nonce"), "next": "/admin", "password": password}
    return (await client.post("/admin/login", data=data, headers=hop)).status_code


async def public_page(client: httpx.AsyncClient, forwarded_for: str) -> int:
    answer = await client.get("/r/some-code", headers={"X-Forwarded-For": forwarded_for})
    return answer.status_code


async def test_spoofed_forwarded_for_does_not_dodge_the_login_lock(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": []}) as client:
        for n in range(5):  # a new made-up address on every try
            assert await login(client, WRONG, f"198.51.100.{n}") == 401
        assert await login(client, PASSWORD, "198.51.100.99") == 429  # 127.0.0.1 is locked


async def test_spoofed_forwarded_for_does_not_dodge_the_rate_limit(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": []}) as client:
        assert await public_page(client, "203.0.113.1") != 429
        assert await public_page(client, "203.0.113.2") != 429  # the burst of 2, spent
        assert await public_page(client, "203.0.113.3") == 429


async def test_a_trusted_proxy_locks_out_each_forwarded_client_apart(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": ["127.0.0.1"]}) as client:
        for _ in range(5):
            assert await login(client, WRONG, "198.51.100.1") == 401
        assert await login(client, PASSWORD, "198.51.100.1") == 429  # that client is locked
        assert await login(client, PASSWORD, "198.51.100.2") == 303  # another is not


async def test_a_trusted_proxy_rate_limits_each_forwarded_client_apart(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": ["127.0.0.1"]}) as client:
        assert await public_page(client, "203.0.113.1") != 429
        assert await public_page(client, "203.0.113.1") != 429
        assert await public_page(client, "203.0.113.1") == 429
        assert await public_page(client, "203.0.113.2") != 429


async def login_cookie(client: httpx.AsyncClient, proto: str) -> str:
    """The Set-Cookie of the login form fetched with X-Forwarded-Proto: `proto` (the session
    cookie is set the same way)."""
    hop = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": proto}
    return (await client.get("/admin/login", headers=hop)).headers["set-cookie"]


async def test_a_trusted_tls_proxy_makes_the_dashboard_cookies_secure(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": ["127.0.0.1"]}) as client:
        assert "secure" in (await login_cookie(client, "https")).lower()
        assert "secure" not in (await login_cookie(client, "http")).lower()


async def test_an_untrusted_peer_cannot_claim_https(tmp_path: Path) -> None:
    async with daemon(tmp_path, {"trusted_proxies": []}) as client:
        assert "secure" not in (await login_cookie(client, "https")).lower()
