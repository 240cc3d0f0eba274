"""The reports in the owner's words (daemon/engine/findings.py): each sentence from the report's
own figures, "proven" only when the test says so, and the asks still needed from the sample size
the observed rates need."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.engine import findings
from daemon.engine.offers import Terms
from daemon.engine.proportions import group_size
from daemon.referrals import offers, sources


def dollars(amount: float) -> str:
    return f"${amount:,.0f}"


def test_the_sample_size_is_the_textbook_ones() -> None:
    # Fleiss: 10% against 15%, 5% two-sided and 80% power, 686 in each group
    assert group_size(0.10, 0.15) == 686
    assert group_size(0.15, 0.10) == 686
    assert group_size(0.2, 0.2) is None
    with pytest.raises(ValueError):
        group_size(1.2, 0.1)


@pytest.mark.parametrize(("n", "said"), [(7, 7), (23, 30), (100, 100), (101, 110), (1234, 1300)])
def test_about_rounds_up_to_a_number_one_says(n: int, said: int) -> None:
    assert findings.about(n) == said


def _offer_data(control: tuple[int, int], other: tuple[int, int]) -> dict[str, Any]:
    """The offers report of two offers: (advocates referred, advocates asked) each."""
    facts = [
        ("a", control[1], control[1], control[0], control[0], 0, 0, control[0], 0, 0.0, "", "", 0),
        ("b", other[1], other[1], other[0], other[0], 0, 0, other[0], 0, 0.0, "", "", 0),
    ]
    return offers.report([Terms("a", None, "£50"), Terms("b", None, "£80")], facts, "GBP")


def test_an_offer_that_looks_better_is_not_proven_and_says_how_many_more_asks() -> None:
    data = _offer_data((8, 100), (15, 100))
    assert data["offers"][1]["versus_control"]["significant"] is False
    need = group_size(0.08, 0.15)
    assert need is not None
    (said,) = findings.offers(data)
    more = findings.about(2 * (need - 100))
    assert said == (
        f"Offer b looks better than a but is not proven yet: about {more} more asks would tell "
        "(15% of advocates asked referred, against 8%)."
    )


def test_a_proven_difference_says_proven_either_way() -> None:
    (better,) = findings.offers(_offer_data((20, 400), (60, 400)))
    assert better.startswith("Offer b works better than a, and it is proven")
    (worse,) = findings.offers(_offer_data((60, 400), (20, 400)))
    assert worse.startswith("Offer b works worse than a, and it is proven")


def test_offers_the_same_or_not_asked_yet() -> None:
    (same,) = findings.offers(_offer_data((10, 100), (10, 100)))
    assert "do the same so far" in same and "proven" not in same.replace("prove yet", "")
    (empty,) = findings.offers(_offer_data((0, 100), (0, 0)))
    assert empty == "Offer b cannot be compared with a yet: one of them has nobody asked."


def _row(advocate: int, name: str, status: str, value: float | None) -> tuple[Any, ...]:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    closed = at if status == "won" else None
    found = value == 2100  # one win a purchase matched (attribution)
    return (
        advocate,
        name,
        f"{advocate}@example.com",
        "A",
        status,
        value,
        None,
        at,
        at,
        closed,
        found,
    )


def test_sources_say_who_brought_the_won_work() -> None:
    rows = [
        _row(1, "Jane Doe", "won", 2000),
        _row(1, "Jane Doe", "won", 2100),
        _row(1, "Jane Doe", "new", None),
        _row(2, "Bob Lee", "won", 500),
        _row(2, "Bob Lee", "won", 500),
        _row(3, "Cy Dunn", "won", 300),
        _row(4, "Di Ames", "lost", None),
    ]
    data = sources.report(rows, [("", 4, 10), ("kitchen", 2, 1)], "USD")
    said = findings.sources(data, dollars)
    assert said[0] == "7 referrals so far: 5 won, worth $5,400."
    assert said[1] == "1 of the 5 wins came by itself: a purchase matched the referral."
    assert said[2] == "Most of your won work came from Jane Doe and Bob Lee (4 of 5)."
    assert "Jane Doe sent 3 introductions, 2 won ($4,100)." in said
    assert "Di Ames sent 1 introduction, none won yet." not in said  # only the top three named
    assert said[-1] == (
        "Your advocates are more often tagged “kitchen” than your other customers "
        "(50% against 10%)."
    )
    assert findings.sources(sources.report([], [], "USD"), dollars) == ["No referrals yet."]
    lost = sources.report([_row(4, "Di Ames", "lost", None)], [], "USD")
    assert findings.sources(lost, dollars) == [
        "1 referral so far, none won yet.",
        "Di Ames sent 1 introduction, none won yet.",
    ]


def test_partners_say_who_is_owed() -> None:
    data = {
        "partners": [
            {
                "partner": "Harbor Physio",
                "received": 4,
                "received_won": 2,
                "value_won": 3000.0,
                "given": 1,
                "given_won": 0,
                "balance": 3,
            },
            {
                "partner": "Quiet",
                "received": 0,
                "received_won": 0,
                "value_won": 0.0,
                "given": 0,
                "given_won": 0,
                "balance": 0,
            },
            {
                "partner": "Tiles Co",
                "received": 1,
                "received_won": 0,
                "value_won": 0.0,
                "given": 2,
                "given_won": 1,
                "balance": -1,
            },
        ],
        "totals": {"received": 5, "received_won": 2, "value_won": 3000.0, "given": 3},
    }
    assert findings.partners(data, dollars) == [
        "Your partners sent you 5 clients (2 won, $3,000); you gave them 3.",
        "Harbor Physio sent you 4 clients, 2 won ($3,000), and you gave them 1: you owe them 3 "
        "clients.",
        "Tiles Co sent you 1 client, and you gave them 2: they owe you 1 client.",
    ]
    assert findings.partners({"partners": [], "totals": {}}, dollars) == ["No partners yet."]


def test_advocates_name_the_most_influential_with_why() -> None:
    data = {
        "advocates": [
            {
                "rank": 1,
                "email": "ann@example.com",
                "name": "Ann",
                "influence": 11.0,
                "why": ["mark 5 (owner)", "1 referral +1"],
            },
            {"rank": 2, "email": "bo@example.com", "name": None, "influence": 2.5, "why": []},
        ]
    }
    assert findings.advocates(data) == [
        "2 customers with some influence.",
        "Ann scores 11 (mark 5 (owner); 1 referral +1).",
        "bo@example.com scores 2.5.",
    ]
