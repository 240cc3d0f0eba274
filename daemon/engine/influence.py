"""A customer's influence: how much an ask to them is worth when asks must be rationed.

Influence is a plain sum, so the owner can check it by hand:

    influence = mark + tag weights + history

- **mark** (0-10): the owner's own judgement of the customer (`vouch customer mark`, the API,
  or an import column). Unset counts as 0.
- **tag weights**: each tag the customer carries that `[referrals.influence] tags` weighs
  (e.g. `"board-member" = 3`).
- **history**, from what the customer has done (flagged referrals, such as self-referrals,
  never count):

  | what                             | weight |
  | -------------------------------- | ------ |
  | a referral made                  | 1      |
  | a grade A introduction (extra)   | 2      |
  | a testimonial received           | 1      |
  | a referral won                   | 3      |

  So one grade A introduction that became business adds 1 + 2 + 3 = 6.

Every part that counts comes with its reason in words, for `vouch report advocates` and for
the record kept when the daily cap makes a customer wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MARK_RANGE = range(0, 11)
REFERRAL, GRADE_A, TESTIMONIAL, WIN = 1.0, 2.0, 1.0, 3.0


@dataclass(frozen=True)
class Facts:
    """What the store knows of one customer that bears on their influence."""

    customer_id: int
    mark: int | None
    mark_source: str | None  # owner, api, import
    tags: Sequence[str]
    referrals: int
    grade_a: int
    testimonials: int
    wins: int


@dataclass(frozen=True)
class Influence:
    customer_id: int
    score: float
    reasons: tuple[str, ...]  # each part that counted, e.g. "tag board-member +3"


def parse_mark(value: object) -> int:
    """An owner's mark from any input (CLI, API, an import cell): a whole number 0-10."""
    mark = value
    if isinstance(value, str) and value.strip().isdigit():
        mark = int(value.strip())
    if isinstance(mark, bool) or not isinstance(mark, int) or mark not in MARK_RANGE:
        raise ValueError(f"influence must be a whole number from 0 to 10, got {value!r}")
    return mark


def influence(facts: Facts, tag_weights: Mapping[str, float]) -> Influence:
    parts: list[tuple[float, str]] = []
    if facts.mark is not None:
        parts.append((facts.mark, f"mark {facts.mark} ({facts.mark_source or 'owner'})"))
    for tag in sorted(set(facts.tags)):
        if tag_weights.get(tag):
            parts.append((tag_weights[tag], f"tag {tag} +{_num(tag_weights[tag])}"))
    for count, weight, one, many in (
        (facts.referrals, REFERRAL, "referral", "referrals"),
        (facts.grade_a, GRADE_A, "grade A introduction", "grade A introductions"),
        (facts.testimonials, TESTIMONIAL, "testimonial", "testimonials"),
        (facts.wins, WIN, "win", "wins"),
    ):
        if count:
            points = count * weight
            parts.append((points, f"{count} {one if count == 1 else many} +{_num(points)}"))
    return Influence(facts.customer_id, float(sum(p for p, _ in parts)), tuple(r for _, r in parts))


def _num(value: float) -> str:
    return f"{value:g}"
