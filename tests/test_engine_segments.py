"""NPS bands, the score and its interval: hand-computed tables plus properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.segments import Nps, Segment, distribution, segment

no_files = settings(database=None)  # nothing written into the repo

BANDS = [
    (0, Segment.DETRACTOR),
    (1, Segment.DETRACTOR),
    (2, Segment.DETRACTOR),
    (3, Segment.DETRACTOR),
    (4, Segment.DETRACTOR),
    (5, Segment.DETRACTOR),
    (6, Segment.DETRACTOR),
    (7, Segment.PASSIVE),
    (8, Segment.PASSIVE),
    (9, Segment.PROMOTER),
    (10, Segment.PROMOTER),
]


@pytest.mark.parametrize(("score", "expected"), BANDS)
def test_every_score_has_its_band(score: int, expected: Segment) -> None:
    assert segment(score) is expected


def test_segments_are_their_stored_names() -> None:
    assert [str(s) for s in Segment] == ["promoter", "passive", "detractor"]
    assert Segment("detractor") is Segment.DETRACTOR


@pytest.mark.parametrize("bad", [-1, 11, 100, True, False, 9.0, 7.5, "9", None])
def test_anything_but_an_int_from_0_to_10_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        segment(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 to 10"):
        distribution([5, bad])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="0 to 10"):
        Nps.of([bad])  # type: ignore[list-item]


def test_distribution_counts_each_score() -> None:
    assert distribution([10, 10, 0, 7, 9]) == [1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2]
    assert distribution([]) == [0] * 11


@pytest.mark.parametrize(
    ("promoters", "passives", "detractors", "score"),
    [
        (5, 3, 2, 30.0),
        (10, 0, 0, 100.0),
        (0, 0, 7, -100.0),
        (0, 4, 0, 0.0),
        (1, 1, 1, 0.0),
        (2, 1, 0, 200 / 3),
        (1, 0, 3, -50.0),
    ],
)
def test_nps_is_percent_promoters_minus_percent_detractors(
    promoters: int, passives: int, detractors: int, score: float
) -> None:
    nps = Nps.from_counts(promoters, passives, detractors)
    assert nps.score == pytest.approx(score)
    assert nps.responses == promoters + passives + detractors
    assert (nps.promoters, nps.passives, nps.detractors) == (promoters, passives, detractors)


def test_nps_of_scores_uses_the_bands() -> None:
    scores = [10, 9, 9, 10, 9, 7, 8, 8, 0, 6]  # 5 promoters, 3 passives, 2 detractors
    assert Nps.of(scores) == Nps.from_counts(5, 3, 2)
    assert Nps.of(iter(scores)).score == 30.0  # any iterable, read once


def test_no_responses_no_score() -> None:
    nps = Nps.of([])
    assert nps == Nps(0, 0, 0, 0, None, None)
    assert nps.low is None and nps.high is None


@pytest.mark.parametrize("bad", [(-1, 0, 0), (0, True, 0), (0, 0, 1.0)])
def test_counts_must_be_counts(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="count"):
        Nps.from_counts(*bad)


# The adjusted-Wald interval by hand: n' = n + 3, p' = (P + ¾)/n', d' = (D + ¾)/n',
# var = p' + d' − (p' − d')², margin = 1.96·sqrt(var/n')·100, centre = 100·(p' − d').
@pytest.mark.parametrize(
    ("counts", "margin", "low", "high"),
    [
        # 5/3/2: n' = 13, p' + d' = 8.5/13, p' − d' = 3/13, var = 101.5/169,
        # margin = 196·sqrt(101.5/2197) = 42.1283; centre = 300/13 = 23.0769.
        ((5, 3, 2), 42.1283, -19.0514, 65.2052),
        # 10/0/0: n' = 13, p' + d' = 11.5/13, p' − d' = 10/13, var = 49.5/169,
        # margin = 196·sqrt(49.5/2197) = 29.4201; centre 76.9231; high clamped to 100.
        ((10, 0, 0), 29.4201, 47.5030, 100.0),
        # 1/0/0: n' = 4, p' = .4375, d' = .1875, var = .5625, margin = 196·.375 = 73.5;
        # centre 25 gives [-48.5, 98.5], widened to include the one answer, 100.
        ((1, 0, 0), 73.5, -48.5, 100.0),
        # 0/0/1 mirrors it.
        ((0, 0, 1), 73.5, -100.0, 48.5),
        # 0/2/0: n' = 5, p' = d' = .15, var = .3, margin = 196·sqrt(.06) = 48.0100.
        ((0, 2, 0), 48.0100, -48.0100, 48.0100),
    ],
)
def test_margin_matches_hand_computation(
    counts: tuple[int, int, int], margin: float, low: float, high: float
) -> None:
    nps = Nps.from_counts(*counts)
    assert nps.margin == pytest.approx(margin, abs=1e-4)
    assert nps.low == pytest.approx(low, abs=1e-4)
    assert nps.high == pytest.approx(high, abs=1e-4)


def test_margin_is_honest_where_wald_says_zero() -> None:
    # Ten promoters out of ten: the plain normal approximation gives var = 0, margin 0.
    assert Nps.from_counts(10, 0, 0).margin == pytest.approx(29.42, abs=0.01)


def test_margin_tends_to_the_normal_approximation() -> None:
    p, d, n = 0.5, 0.2, 10_000
    wald = 196 * math.sqrt((p + d - (p - d) ** 2) / n)  # 1.5308
    margin = Nps.from_counts(5_000, 3_000, 2_000).margin
    assert margin == pytest.approx(wald, abs=0.001)


counts = st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)).filter(
    lambda c: sum(c) > 0
)


@no_files
@given(counts)
def test_score_and_interval_stay_in_bounds(c: tuple[int, int, int]) -> None:
    nps = Nps.from_counts(*c)
    assert nps.score is not None and nps.low is not None and nps.high is not None
    assert nps.margin is not None and nps.margin > 0
    assert -100 <= nps.low <= nps.score <= nps.high <= 100


@no_files
@given(counts, st.integers(2, 20))
def test_scaling_keeps_the_score_and_narrows_the_interval(c: tuple[int, int, int], k: int) -> None:
    nps = Nps.from_counts(*c)
    more = Nps.from_counts(*(k * x for x in c))
    assert more.score == nps.score
    assert more.margin is not None and nps.margin is not None
    assert more.margin < nps.margin


@no_files
@given(counts)
def test_swapping_promoters_and_detractors_mirrors_everything(c: tuple[int, int, int]) -> None:
    promoters, passives, detractors = c
    nps = Nps.from_counts(promoters, passives, detractors)
    mirror = Nps.from_counts(detractors, passives, promoters)
    assert nps.score is not None and mirror.score is not None
    assert nps.high is not None and mirror.low is not None
    assert mirror.score == -nps.score
    assert mirror.margin == nps.margin
    assert mirror.low == -nps.high


@no_files
@given(st.lists(st.integers(0, 10), max_size=60))
def test_of_scores_agrees_with_the_distribution(scores: list[int]) -> None:
    counts = distribution(scores)
    assert sum(counts) == len(scores)
    nps = Nps.of(scores)
    assert nps.responses == len(scores)
    assert nps == Nps.from_counts(sum(counts[9:]), sum(counts[7:9]), sum(counts[:7]))
