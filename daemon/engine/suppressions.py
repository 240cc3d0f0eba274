"""Which suppressions an owner may lift.

An unsubscribe is the customer's own choice, and the owner may undo it when the customer asks
to hear from them again (`vouch resubscribe`). A hard bounce, a spam complaint, a permanent
refusal by the recipient's server or an erased person is not: mailing them again would harm
the sender's reputation or go against the person's wish, so it stays.
"""

from __future__ import annotations

UNSUBSCRIBED = "unsubscribed"  # the unsubscribe page; "unsubscribed (by email)" by a reply


def why_not_lifted(reason: str) -> str | None:
    """None when a suppression with this reason may be lifted, else why it stays."""
    if reason == UNSUBSCRIBED or reason.startswith(UNSUBSCRIBED + " ("):
        return None
    return (
        f"suppressed for another reason than an unsubscribe ({reason}); only an unsubscribe "
        "can be lifted: a bounce, a spam complaint or an erased person stays suppressed"
    )
