"""The life-cycle rule: a table of histories, then properties over any history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.lifecycle import EVENT_STAGES, PURCHASE, parse, road, short_of, stage_of
from daemon.engine.lifecycle_types import NAMES, REFERRAL, REFERRED, Fact, Stage
from daemon.intake.events import KNOWN_TYPES

no_files = settings(database=None)  # nothing written into the repo
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fact(kind: str, day: float, ref: str | None = None) -> Fact:
    return Fact(T0 + timedelta(days=day), kind, ref or f"{kind}@{day}")


def stages(*facts: Fact) -> list[tuple[str, float]]:
    return [(m.stage.value, (m.at - T0).total_seconds() / 86400) for m in road(facts)]


def test_the_road_in_order() -> None:
    assert [s.value for s in Stage] == ["know", "like", "trust", "try", "buy", "repeat", "refer"]
    assert [s.rank for s in Stage] == list(range(7))
    history = [
        fact("lead.created", 0),
        fact("newsletter.subscribed", 1),
        fact("content.engaged", 2),  # Like again: no move
        fact("quote.requested", 3),
        fact("consultation.booked", 4),  # Trust again
        fact("trial.started", 5),
        fact(PURCHASE, 6),
        fact(PURCHASE, 7),
        fact(REFERRAL, 8),
    ]
    assert stages(*history) == [
        ("know", 0),
        ("like", 1),
        ("trust", 3),
        ("try", 5),
        ("buy", 6),
        ("repeat", 7),
        ("refer", 8),
    ]


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], []),
        ([fact(PURCHASE, 0)], [("buy", 0)]),  # straight in at Buy
        ([fact(PURCHASE, 5), fact(PURCHASE, 2)], [("buy", 2), ("repeat", 5)]),  # out of order
        # a trial after the purchase is no step forward: the road stays at Buy
        ([fact(PURCHASE, 0), fact("trial.started", 3)], [("buy", 0)]),
        # a lead that arrives late takes its place in time
        ([fact(PURCHASE, 4), fact("lead.created", 1)], [("know", 1), ("buy", 4)]),
        # the same fact twice (same ref) is one purchase, not two
        ([fact(PURCHASE, 1, "e1"), fact(PURCHASE, 1, "e1")], [("buy", 1)]),
        # two purchases at the same instant are still two
        ([fact(PURCHASE, 1, "e1"), fact(PURCHASE, 1, "e2")], [("buy", 1), ("repeat", 1)]),
        # unknown kinds change nothing
        ([fact("invoice.sent", 0), fact("testimonial.received", 1)], []),
        # a completed project is at least Buy but not a second purchase
        ([fact("project.completed", 0), fact(PURCHASE, 2)], [("buy", 0)]),
        (
            [fact(PURCHASE, 0), fact("project.completed", 1), fact(PURCHASE, 9)],
            [("buy", 0), ("repeat", 9)],
        ),
        # referring is Refer at once, whatever came before; being referred is Know
        ([fact(REFERRAL, 3)], [("refer", 3)]),
        ([fact(REFERRED, 0), fact(PURCHASE, 2)], [("know", 0), ("buy", 2)]),
        # at one instant the earlier stage goes first, so both show
        ([fact(PURCHASE, 1), fact("lead.created", 1)], [("know", 1), ("buy", 1)]),
    ],
)
def test_histories(history: list[Fact], expected: list[tuple[str, float]]) -> None:
    assert stages(*history) == expected


def test_every_stage_event_is_a_known_type() -> None:
    assert set(EVENT_STAGES) <= KNOWN_TYPES
    assert {
        "lead.created",
        "newsletter.subscribed",
        "content.engaged",
        "consultation.booked",
        "quote.requested",
        "trial.started",
    } <= KNOWN_TYPES


def test_short_of_names_where_they_stand() -> None:
    assert short_of(Stage.REPEAT, Stage.REPEAT) is None
    assert short_of(Stage.REFER, Stage.REPEAT) is None
    reason = short_of(Stage.BUY, Stage.REPEAT)
    assert reason == (
        "life cycle: the customer stands at buy; only customers at repeat or beyond are asked "
        "(referrals.min_stage)"
    )
    assert "has no stage yet" in (short_of(None, Stage.KNOW) or "")


def test_parse() -> None:
    assert parse(" Repeat ") is Stage.REPEAT
    with pytest.raises(ValueError, match="unknown stage 'loyal'; stages: know, like, trust"):
        parse("loyal")


# properties -----------------------------------------------------------------------------------

KINDS = [*EVENT_STAGES, REFERRAL, REFERRED, "testimonial.received", "mystery.event"]
facts = st.builds(
    Fact,
    at=st.integers(0, 400).map(lambda d: T0 + timedelta(days=d)),
    kind=st.sampled_from(KINDS),
    ref=st.integers(0, 60).map(str),
)
histories = st.lists(facts, max_size=25, unique_by=lambda f: f.ref)  # a ref names one fact


@no_files
@given(histories)
def test_the_road_only_goes_forward(history: list[Fact]) -> None:
    moves = road(history)
    ranks = [m.stage.rank for m in moves]
    assert ranks == sorted(set(ranks))  # strictly forward, each stage once
    assert [m.at for m in moves] == sorted(m.at for m in moves)


@no_files
@given(histories, facts)
def test_a_new_fact_never_moves_a_customer_back(history: list[Fact], new: Fact) -> None:
    earlier = [f for f in history if f.ref != new.ref]  # a new fact has a new ref
    before = stage_of(earlier)
    after = stage_of([*earlier, new])
    assert before is None or (after is not None and after.rank >= before.rank)


@no_files
@given(histories, st.randoms(use_true_random=False))
def test_the_order_facts_arrive_in_does_not_matter(history: list[Fact], rnd: random.Random) -> None:
    again = list(history)
    rnd.shuffle(again)
    assert road(again) == road(history)


@no_files
@given(histories)
def test_repeats_and_unknown_kinds_change_nothing(history: list[Fact]) -> None:
    noise = [Fact(T0, "mystery.event", f"x{n}") for n in range(3)]
    assert road([*history, *history, *noise]) == road(history)


@no_files
@given(histories)
def test_the_stage_reflects_purchases_and_referrals(history: list[Fact]) -> None:
    purchases = sum(1 for f in history if f.kind == PURCHASE)
    stage = stage_of(history)
    if any(f.kind == REFERRAL for f in history):
        assert stage is Stage.REFER
    elif purchases >= 2:
        assert stage is Stage.REPEAT
    elif purchases == 1 or any(f.kind == "project.completed" for f in history):
        assert stage is Stage.BUY
    else:
        assert stage is None or stage.rank < Stage.BUY.rank
    assert stage is None or stage.value in NAMES
