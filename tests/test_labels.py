"""A customer's timeline in the owner's words, whatever characters a referral's id holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from daemon.store.rows import TimelineEntry
from daemon.web.labels import entry

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "text", "said", "link"),
    [
        (
            "referral",
            "introduced Sam Patel (grade B, r_hu-Nv_8e)",
            "Introduced Sam Patel (grade B)",
            "/admin/referrals/r_hu-Nv_8e",
        ),
        (
            "referral",
            "referral r_-a_ of Dan is won, value 900",
            "Referral of Dan: won, value 900",
            "/admin/referrals/r_-a_",
        ),
        ("referral", "referred by Ann (r_x-1)", "Introduced by Ann", "/admin/referrals/r_x-1"),
        ("complaint", "complaint 12 opened", "Complaint opened", None),
        (
            "ask",
            "referral ask at referral_won: sent",
            "Referral ask after a won referral: sent",
            None,
        ),
        ("event", "event purchase.completed", "Purchase completed", None),
        ("reply", "reply read as thanks: kind words", "reply read as thanks: kind words", None),
    ],
)
def test_entries_in_words(kind: str, text: str, said: str, link: str | None) -> None:
    line = entry(TimelineEntry(AT, kind, text))
    assert (line.text, line.link) == (said, link)
    assert "r_" not in line.text


def test_an_email_links_to_itself_and_an_event_names_its_reference() -> None:
    sent = entry(TimelineEntry(AT, "email", "email advocate_thanks sent", email_id=7))
    assert (sent.text, sent.link) == ("Thank-you for an introduction sent", "/admin/emails/7")
    event = entry(TimelineEntry(AT, "event", "event purchase.completed", "id order-17"))
    assert event.detail == "your reference: order-17"
