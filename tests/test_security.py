"""Security headers on every answer; a per-address rate limit on the public pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.web import create_app
from daemon.web.ratelimit import TokenBuckets
from daemon.web.security import CONTENT_SECURITY_POLICY

from helpers import TOKEN

TEMPLATES = Path(__file__).parent.parent / "daemon" / "web" / "templates"


def client_for(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://vouch.test")


def assert_secure(answer: httpx.Response) -> None:
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cross-origin-opener-policy"] == "same-origin"


async def test_every_answer_carries_the_security_headers(services: Services) -> None:
    async with client_for(create_app(services), "192.0.2.1") as client:
        page = await client.get("/s/not-a-token")  # a public page (the plain 404 page)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        assert_secure(page)
        health = await client.get("/healthz")  # JSON
        assert health.status_code == 200 and health.json()
        assert_secure(health)
        missing = await client.get("/no/such/path")
        assert missing.status_code == 404
        assert_secure(missing)
        api = await client.post("/v1/events", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 422
        assert_secure(api)
        css = await client.get("/static/page.css")
        assert css.status_code == 200
        assert_secure(css)


def test_page_templates_have_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text and " style=" not in text, template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\bon[a-z]+=", text), template.name  # no onclick= and the like


async def test_public_pages_are_rate_limited_per_address(
    make_config: Callable[..., Config], store: SQLiteStore, clock: FakeClock
) -> None:
    config = make_config({"server": {"public_rate_per_minute": 60, "public_burst": 5}})
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    app = create_app(services)
    async with client_for(app, "198.51.100.7") as one, client_for(app, "198.51.100.8") as two:
        for _ in range(5):
            assert (await one.get("/r/some-code")).status_code == 404
        limited = await one.get("/s/some-token")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert "Too many requests" in limited.text
        assert_secure(limited)
        assert (await one.post("/u/some-token")).status_code == 429
        assert (await two.get("/r/some-code")).status_code == 404  # another address: unaffected
        for _ in range(20):  # admin and health endpoints are not limited
            assert (await one.get("/healthz")).status_code == 200
        clock.advance(1)  # one token back (60 a minute)
        assert (await one.get("/r/some-code")).status_code == 404
        assert (await one.get("/r/some-code")).status_code == 429
        clock.advance(60)  # a full bucket again, never more than the burst
        for _ in range(5):
            assert (await one.get("/r/some-code")).status_code == 404
        assert (await one.get("/r/some-code")).status_code == 429


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    make_config: Callable[..., Config], store: SQLiteStore, clock: FakeClock
) -> None:
    config = make_config({"server": {"public_burst": 1, "trusted_proxies": ["127.0.0.1"]}})
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    app = create_app(services)
    async with client_for(app, "127.0.0.1") as proxy, client_for(app, "203.0.113.9") as direct:
        assert (
            await proxy.get("/r/x", headers={"X-Forwarded-For": "192.0.2.10"})
        ).status_code == 404
        assert (
            await proxy.get("/r/x", headers={"X-Forwarded-For": "192.0.2.10"})
        ).status_code == 429
        # a spoofed left-most entry does not help: the right-most untrusted hop counts
        spoofed = {"X-Forwarded-For": "10.9.9.9, 192.0.2.10"}
        assert (await proxy.get("/r/x", headers=spoofed)).status_code == 429
        assert (
            await proxy.get("/r/x", headers={"X-Forwarded-For": "192.0.2.11"})
        ).status_code == 404
        # not a trusted proxy: its header is ignored, its own address counts
        assert (
            await direct.get("/r/x", headers={"X-Forwarded-For": "192.0.2.12"})
        ).status_code == 404
        assert (
            await direct.get("/r/x", headers={"X-Forwarded-For": "192.0.2.13"})
        ).status_code == 429


def test_buckets_are_bounded(clock: FakeClock) -> None:
    buckets = TokenBuckets(clock, rate_per_minute=60, burst=2, max_buckets=100)
    for n in range(1000):
        assert buckets.take(f"10.0.{n // 256}.{n % 256}") == 0
    assert len(buckets) == 100
    assert buckets.take("10.0.3.231") == 0  # recently seen: kept, its last token spent now
    assert buckets.take("10.0.3.231") == pytest.approx(1.0)
    assert buckets.take("10.0.0.0") == 0  # evicted long ago: a full bucket again
    assert buckets.take("10.0.0.0") == 0
    assert len(buckets) == 100
