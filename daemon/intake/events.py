"""Events: what happened in the business, as the API, the CLI and imports report it.

The same model validates every entry point, so an event means the same thing however it arrives.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from daemon.engine.inputs import text_problem
from daemon.engine.lifecycle import LIFECYCLE_EVENTS
from daemon.settings import Email, OneLine, TimeZone

KNOWN_TYPES = frozenset(
    {
        "purchase.completed",
        "project.completed",
        "testimonial.received",
        "referral.status_changed",
        "complaint.resolved",
        "partner.joined_organization",  # data.partner (id or code) or data.email; organization
        # the customer's early steps, sent by the owner: lead.created, newsletter.subscribed,
        # content.engaged, consultation.booked, quote.requested, trial.started
        *LIFECYCLE_EVENTS,
    }
)

PARTNER_KEYS = ("partner", "email")

# Events about one customer: without `customer` they could only be stored, never acted on.
CUSTOMER_TYPES = frozenset(
    {"purchase.completed", "project.completed", "testimonial.received", *LIFECYCLE_EVENTS}
)

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


def aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. 2026-03-02T09:00:00Z")
    return value


def _tag(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or text_problem(value):
        raise ValueError("a tag is 1-64 characters on one line, without control characters")
    return value


def _data_problem(data: dict[str, Any]) -> str | None:
    """Where `data` holds a control character (text may have tabs and line breaks, keys not).
    A walk, not a recursion: its depth is bounded at the door (engine/inputs.py), not here."""
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and (problem := text_problem(value, free=True)):
            return f"{path or 'data'}: {problem}"
        if isinstance(value, dict):
            for key, item in value.items():
                if problem := text_problem(key):
                    return f"{path or 'data'}: a key {problem}"
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Email = Field(description="the customer's email address")
    name: OneLine | None = Field(None, max_length=200)
    external_id: OneLine | None = Field(None, max_length=200)
    timezone: TimeZone | None = None
    locale: str | None = Field(None, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    tags: list[Annotated[str, AfterValidator(_tag)]] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # Names end up in headers; keep them on one line from the start.
        return " ".join(value.split()) or None if value is not None else None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: OneLine = Field(min_length=1, max_length=200, description="the caller's idempotency key")
    type: str = Field(pattern=TYPE_PATTERN, max_length=100)
    occurred_at: Annotated[datetime, AfterValidator(aware)]
    customer: CustomerIn | None = Field(None, validate_default=True)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("customer")
    @classmethod
    def _customer(cls, customer: CustomerIn | None, info: ValidationInfo) -> CustomerIn | None:
        kind = info.data.get("type")
        if customer is None and kind in CUSTOMER_TYPES:
            raise ValueError(f"required: a {kind} event is about a customer (customer.email)")
        return customer

    @field_validator("data")
    @classmethod
    def _data(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Text without control characters; what the partner moment and a complaint's
        resolution need to be acted on. Anything less is refused at the door."""
        if problem := _data_problem(data):
            raise ValueError(problem)
        if (
            info.data.get("type") == "complaint.resolved"
            and info.data.get("customer") is None
            and type(data.get("complaint_id")) is not int
        ):
            raise ValueError(
                "complaint_id: the complaint to close (a number), or give customer to close "
                "all of theirs"
            )
        if info.data.get("type") == "partner.joined_organization":
            organization = data.get("organization")
            if not isinstance(organization, str) or not 0 < len(organization.strip()) <= 200:
                raise ValueError("organization: the organization's name, 1-200 characters")
            if not any(isinstance(data.get(k), str) and data[k].strip() for k in PARTNER_KEYS):
                raise ValueError("partner (the partner's id or code) or email is required")
        return data

    @property
    def known(self) -> bool:
        return self.type in KNOWN_TYPES

    def body_hash(self) -> str:
        """A digest of the event, to tell a replay from a different event reusing an id."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def receipt(self) -> dict[str, Any]:
        """The answer for this event; a replay of the same id gets exactly this again."""
        answer: dict[str, Any] = {"id": self.id, "type": self.type, "status": "recorded"}
        if not self.known:
            answer["warnings"] = [
                f"unknown event type {self.type!r}: stored and reported, not acted on "
                f"(known types: {', '.join(sorted(KNOWN_TYPES))})"
            ]
        return answer
