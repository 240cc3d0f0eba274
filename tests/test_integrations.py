"""Stripe and Shopify webhooks: signatures verified as documented, purchases recorded once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.web import create_app

from helpers import ENV

STRIPE = "whsec_test_0123456789abcdef"
SHOPIFY = "shpss_test_0123456789abcdef"

# Trimmed from Stripe's documented checkout.session.completed example.
CHECKOUT = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "object": "event",
    "api_version": "2022-11-15",
    "created": 1772442000,  # 2026-03-02 09:00 UTC
    "type": "checkout.session.completed",
    "data": {
        "object": {
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "amount_total": 42000,
            "currency": "gbp",
            "customer_details": {"email": "jenny.rosen@example.com", "name": "Jenny Rosen"},
            "payment_status": "paid",
            "created": 1772441900,
        }
    },
}

INVOICE = {
    "id": "evt_invoice_paid_1",
    "object": "event",
    "created": 1772442100,
    "type": "invoice.paid",
    "data": {
        "object": {
            "id": "in_1MtHbELkdIwHu7ixl4OzzPMv",
            "object": "invoice",
            "amount_paid": 9900,
            "currency": "gbp",
            "customer_email": "bo@example.com",
            "customer_name": "Bo Lee",
        }
    },
}

# Trimmed from Shopify's documented orders/fulfilled example.
ORDER = {
    "id": 820982911946154508,
    "email": "jon@example.com",
    "created_at": "2026-02-28T12:00:00-05:00",
    "updated_at": "2026-03-01T09:30:00-05:00",
    "total_price": "403.00",
    "currency": "USD",
    "customer": {"first_name": "Jon", "last_name": "Snow", "email": "jon@example.com"},
}


@pytest.fixture
async def client(
    make_config: Callable[..., Config], store: SQLiteStore, clock: FakeClock, tmp_path: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, SQLiteStore]]:
    names = {"stripe_secret_env": "STRIPE_WEBHOOK_SECRET", "shopify_secret_env": "SHOPIFY_SECRET"}
    base = make_config({"integrations": names})
    config = load_config(
        base.path, {**ENV, "STRIPE_WEBHOOK_SECRET": STRIPE, "SHOPIFY_SECRET": SHOPIFY}
    )
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        yield c, store


def stripe_headers(body: bytes, stamp: int, secret: str = STRIPE) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


def shopify_headers(body: bytes, secret: str = SHOPIFY) -> dict[str, str]:
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "X-Shopify-Hmac-Sha256": mac,
        "X-Shopify-Topic": "orders/fulfilled",
        "Content-Type": "application/json",
    }


async def test_stripe_checkout_and_invoice_become_purchases_once(
    client: tuple[httpx.AsyncClient, SQLiteStore], clock: FakeClock
) -> None:
    c, store = client
    now = int(clock.now().timestamp())
    for event in (CHECKOUT, INVOICE, CHECKOUT):  # Stripe retries deliveries: the same id twice
        body = json.dumps(event).encode()
        answer = await c.post(
            "/v1/integrations/stripe", content=body, headers=stripe_headers(body, now)
        )
        assert answer.status_code == 202, answer.text
    assert await store.event_counts() == {"purchase.completed": 2}
    jenny = await store.customer_by_email("jenny.rosen@example.com")
    assert jenny is not None and jenny.name == "Jenny Rosen"


async def test_stripe_refuses_tampered_stale_and_unsigned(
    client: tuple[httpx.AsyncClient, SQLiteStore], clock: FakeClock
) -> None:
    c, store = client
    now = int(clock.now().timestamp())
    body = json.dumps(CHECKOUT).encode()
    tampered = body.replace(b"42000", b"1")
    cases = [
        (tampered, stripe_headers(body, now), "does not match"),
        (body, stripe_headers(body, now, secret="whsec_wrong"), "does not match"),
        (body, stripe_headers(body, now - 301), "tolerance"),  # a replay of an old delivery
        (body, {"Content-Type": "application/json"}, "t= and v1="),
    ]
    for content, headers, words in cases:
        answer = await c.post("/v1/integrations/stripe", content=content, headers=headers)
        assert answer.status_code == 400 and words in answer.json()["detail"]
    assert await store.event_counts() == {}


async def test_stripe_ignores_other_event_types(
    client: tuple[httpx.AsyncClient, SQLiteStore], clock: FakeClock
) -> None:
    c, store = client
    body = json.dumps({**CHECKOUT, "type": "customer.created"}).encode()
    answer = await c.post(
        "/v1/integrations/stripe",
        content=body,
        headers=stripe_headers(body, int(clock.now().timestamp())),
    )
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert await store.event_counts() == {}


async def test_shopify_order_fulfilled(client: tuple[httpx.AsyncClient, SQLiteStore]) -> None:
    c, store = client
    body = json.dumps(ORDER).encode()
    for _ in range(2):
        answer = await c.post(
            "/v1/integrations/shopify", content=body, headers=shopify_headers(body)
        )
        assert answer.status_code == 202, answer.text
    assert await store.event_counts() == {"purchase.completed": 1}
    jon = await store.customer_by_email("jon@example.com")
    assert jon is not None and jon.name == "Jon Snow"
    bad = await c.post(
        "/v1/integrations/shopify",
        content=body.replace(b"403", b"4"),
        headers=shopify_headers(body),
    )
    assert bad.status_code == 401
    other = {**shopify_headers(body), "X-Shopify-Topic": "orders/create"}
    assert (await c.post("/v1/integrations/shopify", content=body, headers=other)).json()[
        "status"
    ] == "ignored"


async def test_unconfigured_integrations_do_not_exist(services: Services) -> None:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        assert (await c.post("/v1/integrations/stripe", content=b"{}")).status_code == 404
        assert (await c.post("/v1/integrations/shopify", content=b"{}")).status_code == 404
