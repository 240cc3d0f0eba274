"""NPS bands and the Net Promoter Score, with an interval that stays honest for small samples.

Scores are the 0–10 answers to "how likely are you to recommend us?". The bands are the standard
ones: 9–10 promoter, 7–8 passive, 0–6 detractor; NPS = %promoters − %detractors.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from math import sqrt

_Z95 = 1.96  # two-sided 95% quantile of the standard normal
_PSEUDO = 0.75  # adjusted-Wald: ¾ of a promoter and ¾ of a detractor (so 1½ passives) added


class Segment(enum.StrEnum):
    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


def _checked(score: int) -> int:
    # bool is an int subclass, but True is not a score a customer gave.
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise ValueError(f"a score is a whole number from 0 to 10, not {score!r}")
    return score


def segment(score: int) -> Segment:
    """The NPS band of one score; anything but an int in 0..10 is a ValueError."""
    score = _checked(score)
    if score >= 9:
        return Segment.PROMOTER
    if score >= 7:
        return Segment.PASSIVE
    return Segment.DETRACTOR


def distribution(scores: Iterable[int]) -> list[int]:
    """How many answers gave each score: 11 counts, index = score (for the report's histogram)."""
    counts = [0] * 11
    for score in scores:
        counts[_checked(score)] += 1
    return counts


def _adjusted(promoters: int, passives: int, detractors: int) -> tuple[float, float]:
    """The adjusted-Wald interval as (centre, half-width), both in NPS points."""
    n = promoters + passives + detractors + 4 * _PSEUDO
    pro = (promoters + _PSEUDO) / n
    det = (detractors + _PSEUDO) / n
    var = pro + det - (pro - det) ** 2
    return 100 * (pro - det), 100 * _Z95 * sqrt(var / n)


@dataclass(frozen=True)
class Nps:
    """The Net Promoter Score of some responses, with a 95% confidence interval.

    Each response counts +1 (promoter), 0 (passive) or −1 (detractor); NPS is 100 × their mean,
    and the variance of one response is var = p_pro + p_det − (p_pro − p_det)².

    The textbook margin, 1.96 · sqrt(var / n) · 100 (Wald: the normal approximation), is badly
    wrong at the sample sizes a small business has: ten promoters out of ten give var = 0, so
    "100, exactly"; with a true mix of 90% promoters and 5% detractors, n = 10 covers the truth
    about 65% of the time, not 95%.

    So `margin` is the adjusted-Wald half-width (Rocks 2016, The American Statistician; what
    Sauro and Lewis recommend for NPS), Agresti–Coull's idea for three bands: add ¾ promoter,
    ¾ detractor and 1½ passive, n' = n + 3, p' = (promoters + ¾)/n', d' = (detractors + ¾)/n':

        margin = 1.96 · sqrt((p' + d' − (p' − d')²) / n') · 100,  centre = 100 · (p' − d').

    By exact enumeration over several true mixes at n = 10–50 it covers 91–96% (Wald 40–95%),
    and it tends to Wald as n grows. The interval is centred on the adjusted estimate, pulled
    toward 0, so show `low`–`high` rather than `score ± margin`. `low`/`high` are clamped to
    [−100, 100] and widened to include `score`, which only matters at n = 1.
    """

    responses: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # NPS, −100..+100; None with no responses
    margin: float | None  # half-width of the 95% interval, NPS points; None with no responses

    @classmethod
    def from_counts(cls, promoters: int, passives: int, detractors: int) -> Nps:
        for name, count in (
            ("promoters", promoters),
            ("passives", passives),
            ("detractors", detractors),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{name} must be a count (an int ≥ 0), not {count!r}")
        n = promoters + passives + detractors
        if n == 0:
            return cls(0, 0, 0, 0, None, None)
        _, margin = _adjusted(promoters, passives, detractors)
        score = 100 * (promoters - detractors) / n  # int / int: exact ratios give equal floats
        return cls(n, promoters, passives, detractors, score, margin)

    @classmethod
    def of(cls, scores: Iterable[int]) -> Nps:
        counts = distribution(scores)
        return cls.from_counts(sum(counts[9:]), sum(counts[7:9]), sum(counts[:7]))

    @property
    def low(self) -> float | None:
        if self.score is None:
            return None
        centre, margin = _adjusted(self.promoters, self.passives, self.detractors)
        return max(-100.0, min(centre - margin, self.score))

    @property
    def high(self) -> float | None:
        if self.score is None:
            return None
        centre, margin = _adjusted(self.promoters, self.passives, self.detractors)
        return min(100.0, max(centre + margin, self.score))
