"""The life cycle's vocabulary: the stages of the road, the facts that show them and the moves
they make. Data only; the rule that walks facts into moves is daemon/engine/lifecycle.py.

Apart so that the store, which keeps the roads, can name them without importing the rule (an
import contract in pyproject.toml holds it to that).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


class Stage(enum.StrEnum):
    KNOW = "know"
    LIKE = "like"
    TRUST = "trust"
    TRY = "try"
    BUY = "buy"
    REPEAT = "repeat"
    REFER = "refer"

    @property
    def rank(self) -> int:
        """The position on the road (compare ranks, never the names: "buy" < "know")."""
        return _RANKS[self]


ORDER: tuple[Stage, ...] = tuple(Stage)
_RANKS = {stage: n for n, stage in enumerate(ORDER)}
NAMES: tuple[str, ...] = tuple(stage.value for stage in ORDER)

# The kinds of fact that are not events (the rest are event types).
REFERRAL = "referral"  # the customer referred a friend (a row in the referrals table)
REFERRED = "referred"  # the customer was introduced by a friend: they now know the business


@dataclass(frozen=True)
class Fact:
    """Something that happened to a customer: an event of `kind` (its type), or REFERRAL or
    REFERRED. `ref` names its source uniquely, so the same fact seen twice counts once."""

    at: datetime
    kind: str
    ref: str


@dataclass(frozen=True)
class Move:
    """The customer reached `stage` at `at`, because of `fact`."""

    stage: Stage
    at: datetime
    fact: Fact


#: The rule's shape (daemon.engine.lifecycle.road): a customer's facts, in any order, to the
#: stages they reached, in order. The shell hands it to the store, which keeps the roads.
RoadRule = Callable[[Iterable[Fact]], list[Move]]
