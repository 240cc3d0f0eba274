"""Outbound webhooks, the pure part: what a delivery says, how it is signed, what an answer means.

A delivery is a JSON body `{"id", "type", "occurred_at", "data"}` POSTed to an owner's endpoint
with `Vouch-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 with the endpoint's
secret over `t + "." + body`. The body is written once (it is the outbox row's message, so every
retry carries the same bytes); the signature is made at each attempt, so its timestamp is fresh
and a receiver may refuse old ones.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "Vouch-Signature"


@dataclass(frozen=True)
class Fact:
    """Something that happened that the owner's endpoints may hear of, read from its table."""

    type: str  # response.recorded, complaint.opened, referral.created, ...
    row_id: int  # the row it was read from (the response, the complaint, the step ...)
    occurred_at: datetime
    customer_id: int | None  # whom it is about (a person's data is erased with them)
    data: Mapping[str, Any]

    @property
    def id(self) -> str:
        """Stable across repeats of the sweep, so receivers can de-duplicate on it too."""
        return f"{self.type}:{self.row_id}"


@dataclass(frozen=True)
class Endpoint:
    url: str
    events: frozenset[str]


def body(fact: Fact) -> bytes:
    """The delivery's bytes: compact JSON, times in ISO 8601 UTC."""
    document = {
        "id": fact.id,
        "type": fact.type,
        "occurred_at": iso(fact.occurred_at),
        "data": fact.data,
    }
    return json.dumps(
        document, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    ).encode()


def dedupe_key(url: str, fact: Fact) -> str:
    """One delivery per (endpoint, fact), ever."""
    return f"webhook:{url}:{fact.id}"


def wanted_by(fact: Fact, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    return [endpoint for endpoint in endpoints if fact.type in endpoint.events]


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    """The Vouch-Signature header value for one attempt."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class Verdict(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


def verdict(status: int) -> Verdict:
    """2xx delivered; 408, 429 and 5xx are worth another try; anything else (a 3xx, whose
    redirect is not followed, or a 4xx) will not get better by itself."""
    if 200 <= status < 300:
        return Verdict.SENT
    if status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.FAILED


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
