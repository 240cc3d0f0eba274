"""The customer life cycle: where a customer stands on the road Know → Like → Trust → Try → Buy →
Repeat → Refer, worked out from what happened to them.

Each fact (an event, a referral) shows a stage: a lead was created (Know), they subscribed or
engaged with content (Like), booked a consultation or asked for a quote (Trust), started a trial
(Try), bought (Buy; a second purchase is Repeat), referred a friend (Refer). Taken in the order
the facts happened, a fact moves the customer on only if it shows a later stage than the one they
stand at: a stage never goes backwards, and a fact that arrives late is put in its place in time.
The words (Stage, Fact, Move) are in daemon/engine/lifecycle_types.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from daemon.engine.lifecycle_types import NAMES, REFERRAL, REFERRED, Fact, Move, Stage

PURCHASE = "purchase.completed"  # the first is Buy, the second Repeat

# The event types the owner sends for the early stages, and the others that show a stage.
# A completed project is work bought, so at least Buy, but it does not count as a second
# purchase (many owners report both for one job): report every purchase as purchase.completed.
EVENT_STAGES: dict[str, Stage] = {
    "lead.created": Stage.KNOW,
    "newsletter.subscribed": Stage.LIKE,
    "content.engaged": Stage.LIKE,
    "consultation.booked": Stage.TRUST,
    "quote.requested": Stage.TRUST,
    "trial.started": Stage.TRY,
    PURCHASE: Stage.BUY,
    "project.completed": Stage.BUY,
}
# The new event types this module brings (the rest were known already).
LIFECYCLE_EVENTS = frozenset(EVENT_STAGES) - {PURCHASE, "project.completed"}
_FACT_STAGES = {**EVENT_STAGES, REFERRAL: Stage.REFER, REFERRED: Stage.KNOW}


def road(history: Iterable[Fact]) -> list[Move]:
    """The stages a customer reached, in order, from their facts in any order.

    Facts are taken by time (at the same instant, the earlier stage first, so a lead and a
    purchase in one moment show both); unknown kinds and repeats of a ref are ignored.
    """
    unique = {fact.ref: fact for fact in history if fact.kind in _FACT_STAGES}
    ordered = sorted(
        unique.values(), key=lambda f: (f.at, _FACT_STAGES[f.kind].rank, f.kind, f.ref)
    )
    moves: list[Move] = []
    purchases = 0
    for fact in ordered:
        shown = _FACT_STAGES[fact.kind]
        if fact.kind == PURCHASE:
            purchases += 1
            shown = Stage.REPEAT if purchases >= 2 else Stage.BUY
        if not moves or shown.rank > moves[-1].stage.rank:
            moves.append(Move(shown, fact.at, fact))
    return moves


def stage_of(history: Iterable[Fact]) -> Stage | None:
    """Where the customer stands now; None before anything shows a stage."""
    moves = road(history)
    return moves[-1].stage if moves else None


def parse(name: str) -> Stage:
    """A stage from its name, as config and the API write it."""
    try:
        return Stage(name.strip().lower())
    except ValueError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(NAMES)}") from None


def short_of(stage: Stage | None, minimum: Stage) -> str | None:
    """Why a customer does not yet qualify for something that needs `minimum`; None if they do."""
    if stage is not None and stage.rank >= minimum.rank:
        return None
    where = f"stands at {stage.value}" if stage else "has no stage yet (no events that show one)"
    return (
        f"life cycle: the customer {where}; only customers at {minimum.value} or beyond "
        "are asked (referrals.min_stage)"
    )
