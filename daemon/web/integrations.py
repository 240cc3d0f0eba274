"""Purchases reported by Stripe and Shopify webhooks, verified as each platform documents.

- Stripe: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, checked in
  constant time against every v1 given, and refused outside a tolerance window (a replayed
  old request fails); `checkout.session.completed` and `invoice.paid` become purchases.
- Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>`; `orders/fulfilled`
  becomes a purchase.
Both map to `purchase.completed` with an id derived from the platform's own ids, so a webhook
delivered twice records one event. An endpoint whose secret is not configured does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from daemon.intake.accept import Refused, accept_event
from daemon.intake.events import EventIn
from daemon.run.services import Services
from daemon.web import state

router = APIRouter(include_in_schema=False)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


def stripe_signature_ok(
    header: str, body: bytes, secret: str, now: datetime, tolerance: int
) -> str | None:
    """None when the signature is good; otherwise what is wrong."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    given = [v.strip() for k, v in parts if k.strip() == "v1"]
    if not stamps or not given or not stamps[0].strip().isdigit():
        return "Stripe-Signature needs t= and v1="
    stamp = int(stamps[0])
    if abs(now.timestamp() - stamp) > tolerance:
        return f"the signature's timestamp is outside the {tolerance} s tolerance"
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v) for v in given):
        return "the signature does not match"
    return None


def shopify_signature_ok(header: str, body: bytes, secret: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header.strip())


async def _record(services: Services, event: dict[str, Any]) -> Response:
    try:
        parsed = EventIn.model_validate(event)
    except ValidationError as exc:
        fields = "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())
        return _answer(422, f"cannot map the webhook to a purchase: {fields}")
    try:
        outcome = await accept_event(services, parsed)
    except Refused as exc:
        return _answer(422, f"cannot record the webhook's purchase: {exc}")
    return JSONResponse(status_code=202, content=outcome.receipt)


def _code(code: Any) -> dict[str, str]:
    """The referral code a purchase carried, for attribution (daemon/referrals/attribution.py)."""
    return {"referral_code": code.strip()} if isinstance(code, str) and code.strip() else {}


def _note_attribute(order: dict[str, Any], name: str) -> Any:
    for attribute in order.get("note_attributes") or []:
        if isinstance(attribute, dict) and attribute.get("name") == name:
            return attribute.get("value")
    return None


@router.post("/v1/integrations/stripe")
async def stripe(request: Request) -> Response:
    services = state.services(request)
    secret = services.config.secrets.stripe_secret
    if not secret:
        return _answer(404, "Stripe is not configured (integrations.stripe_secret_env)")
    body = await request.body()
    problem = stripe_signature_ok(
        request.headers.get("stripe-signature", ""),
        body,
        secret,
        services.clock.now(),
        services.config.settings.integrations.stripe_tolerance_seconds,
    )
    if problem:
        return _answer(400, problem)
    try:
        payload = json.loads(body)
        kind, obj = payload["type"], payload["data"]["object"]
    except (ValueError, KeyError, TypeError):
        return _answer(400, "not a Stripe event")
    if kind == "checkout.session.completed":
        details = obj.get("customer_details") or {}
        email, name = details.get("email") or obj.get("customer_email"), details.get("name")
        amount = obj.get("amount_total")
    elif kind == "invoice.paid":
        email, name, amount = (
            obj.get("customer_email"),
            obj.get("customer_name"),
            obj.get("amount_paid"),
        )
    else:
        return JSONResponse(status_code=200, content={"status": "ignored", "type": kind})
    if not email:
        return _answer(422, f"{kind} {obj.get('id')} carries no customer email")
    created = payload.get("created") or obj.get("created")
    try:
        occurred_at = datetime.fromtimestamp(int(created), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return _answer(422, f"{kind} {obj.get('id')}: created is not a Unix time: {created!r}")
    return await _record(
        services,
        {
            "id": f"stripe:{payload.get('id')}",
            "type": "purchase.completed",
            "occurred_at": occurred_at,
            "customer": {"email": email, **({"name": name} if name else {})},
            "data": {
                "source": "stripe",
                "stripe_type": kind,
                "stripe_id": obj.get("id"),
                "amount": amount,
                "currency": obj.get("currency"),
                **_code((obj.get("metadata") or {}).get("referral_code")),
            },
        },
    )


@router.post("/v1/integrations/shopify")
async def shopify(request: Request) -> Response:
    services = state.services(request)
    secret = services.config.secrets.shopify_secret
    if not secret:
        return _answer(404, "Shopify is not configured (integrations.shopify_secret_env)")
    body = await request.body()
    if not shopify_signature_ok(request.headers.get("x-shopify-hmac-sha256", ""), body, secret):
        return _answer(401, "the X-Shopify-Hmac-Sha256 signature does not match")
    topic = request.headers.get("x-shopify-topic", "")
    if topic != "orders/fulfilled":
        return JSONResponse(status_code=200, content={"status": "ignored", "topic": topic})
    try:
        order = json.loads(body)
        order_id = order["id"]
    except (ValueError, KeyError, TypeError):
        return _answer(400, "not a Shopify order")
    customer = order.get("customer") or {}
    email = order.get("email") or customer.get("email")
    if not email:
        return _answer(422, f"order {order_id} carries no customer email")
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    return await _record(
        services,
        {
            "id": f"shopify:order:{order_id}:fulfilled",
            "type": "purchase.completed",
            "occurred_at": order.get("updated_at") or order.get("created_at"),
            "customer": {"email": email, **({"name": name} if name else {})},
            "data": {
                "source": "shopify",
                "order": order_id,
                "amount": order.get("total_price"),
                "currency": order.get("currency"),
                **_code(_note_attribute(order, "referral_code")),
                "discount_codes": [
                    str(d["code"]) for d in order.get("discount_codes") or [] if d.get("code")
                ],
            },
        },
    )
