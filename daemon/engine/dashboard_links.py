"""Where an owner email's links lead: the item's own page in the dashboard, where its action is
one click away (after login, which keeps the way). Only public ids, never a secret: the
dashboard's login protects the pages."""

from __future__ import annotations


def customer(dashboard: str, public_id: str) -> str:
    """The customer's page: their timeline, with an open complaint's Resolve button."""
    return f"{dashboard}/customers/{public_id}"


def referral(dashboard: str, public_id: str) -> str:
    """The referral's page: its status actions, and its reward's Approve when one waits."""
    return f"{dashboard}/referrals/{public_id}"
