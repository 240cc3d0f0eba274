"""Events: what happened in the business, as the API, the CLI and imports report it.

The same model validates every entry point, so an event means the same thing however it arrives.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from daemon.engine.lifecycle import LIFECYCLE_EVENTS
from daemon.settings import Email, TimeZone

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

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


def aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. 2026-03-02T09:00:00Z")
    return value


def _tag(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or any(ch in value for ch in "\r\n\t"):
        raise ValueError("a tag is 1-64 characters on one line")
    return value


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Email = Field(description="the customer's email address")
    name: str | None = Field(None, max_length=200)
    external_id: str | None = Field(None, max_length=200)
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

    id: str = Field(min_length=1, max_length=200, description="the caller's idempotency key")
    type: str = Field(pattern=TYPE_PATTERN, max_length=100)
    occurred_at: Annotated[datetime, AfterValidator(aware)]
    customer: CustomerIn | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _partner_joined(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The partner moment names who and where; anything less is refused at the door."""
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
