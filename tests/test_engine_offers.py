"""Offer tests and influence, the pure parts: the statistics (against figures worked by hand),
the offer pick (stable, balanced), the influence score, the daily cap, and their config."""

from __future__ import annotations

import base64
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.config import load_config
from daemon.engine.daily_cap import Candidate, ration
from daemon.engine.influence import Facts, influence, parse_mark
from daemon.engine.offers import GIFT, Terms, issued, pick
from daemon.engine.proportions import compare, newcombe, wilson, z_test
from daemon.errors import ConfigError

from helpers import ENV, write_business

# statistics --------------------------------------------------------------------------------------


def test_wilson_interval_worked_by_hand() -> None:
    # 30 of 200: p = 0.15, z = 1.95996, z² = 3.84146
    #   denominator = 1 + z²/n = 1 + 3.84146/200 = 1.019207
    #   centre = (p + z²/2n) / denominator = (0.15 + 0.0096037) / 1.019207 = 0.156596
    #   half = z·√(p(1−p)/n + z²/4n²) / denominator
    #        = 1.95996·√(0.0006375 + 0.0000240) / 1.019207 = 1.95996·0.025720 / 1.019207 = 0.049460
    #   → 0.107136 to 0.206056
    found = wilson(30, 200)
    assert found.estimate == 0.15
    assert found.low == pytest.approx(0.107136, abs=1e-6)
    assert found.high == pytest.approx(0.206056, abs=1e-6)
    # 0 of 10 stays inside 0..1 (the Wald interval would be 0 ± 0): high = z²/(n + z²)
    #   = 3.84146 / 13.84146 = 0.277533
    none = wilson(0, 10)
    assert none.low == 0.0 and none.high == pytest.approx(0.277533, abs=1e-6)


def test_two_proportion_z_test_worked_by_hand() -> None:
    # control 30/200 = 0.15, offer 45/200 = 0.225
    #   pooled p = 75/400 = 0.1875
    #   SE = √(0.1875 · 0.8125 · (1/200 + 1/200)) = √(0.15234375 · 0.01) = √0.0015234375 = 0.0390312
    #   z = (0.225 − 0.15) / 0.0390312 = 0.075 / 0.0390312 = 1.92154
    #   p = erfc(|z|/√2) = erfc(1.35872) = 0.05466 (two-sided): not significant at 0.05
    z, p = z_test(30, 200, 45, 200)
    assert z == pytest.approx(1.92154, abs=1e-5)
    assert p == pytest.approx(0.05466, abs=1e-5)
    # control 20/200 = 0.10, offer 45/200 = 0.225
    #   pooled p = 65/400 = 0.1625
    #   SE = √(0.1625 · 0.8375 · 0.01) = √0.00136094 = 0.0368909
    #   z = 0.125 / 0.0368909 = 3.38837; p = erfc(3.38837/√2) = erfc(2.39596) = 0.000703
    z, p = z_test(20, 200, 45, 200)
    assert z == pytest.approx(3.38837, abs=1e-5)
    assert p == pytest.approx(0.000703, abs=1e-6)
    # the same rates give z = 0 and p = 1; nothing on either side is no evidence either
    assert z_test(10, 100, 20, 200) == (0.0, 1.0)
    assert z_test(0, 50, 0, 80) == (0.0, 1.0)
    # direction: a lower offer has a negative z and the same p
    z_low, p_low = z_test(45, 200, 30, 200)
    assert z_low == pytest.approx(-1.92154, abs=1e-5) and p_low == pytest.approx(0.05466, abs=1e-5)


def test_newcombe_difference_interval_worked_by_hand() -> None:
    # 30/200 vs 45/200: d = 0.225 − 0.15 = 0.075
    #   Wilson 30/200: 0.107136 to 0.206056; Wilson 45/200: 0.172624 to 0.287741
    #   low  = d − √((0.225 − 0.172624)² + (0.206056 − 0.15)²)
    #        = 0.075 − √(0.0027433 + 0.0031423) = 0.075 − 0.076717 = −0.001717
    #   high = d + √((0.287741 − 0.225)² + (0.15 − 0.107136)²)
    #        = 0.075 + √(0.0039365 + 0.0018373) = 0.075 + 0.075985 = 0.150985
    found = newcombe(30, 200, 45, 200)
    assert found.estimate == pytest.approx(0.075)
    assert found.low == pytest.approx(-0.001717, abs=1e-6)
    assert found.high == pytest.approx(0.150985, abs=1e-6)
    assert found.low < 0 < found.high  # agrees with p = 0.055: the interval holds 0


def test_compare_says_when_there_is_too_little_data() -> None:
    clear = compare(20, 200, 45, 200)
    assert clear.significant and clear.enough_data
    assert not compare(30, 200, 45, 200).significant
    # 1/10 vs 4/10: pooled 0.25, 10 · 0.25 = 2.5 expected referrers < 5: too few to tell
    small = compare(1, 10, 4, 10)
    assert not small.enough_data and not small.significant
    with pytest.raises(ValueError, match="0 <= x <= n"):
        compare(5, 0, 1, 10)
    with pytest.raises(ValueError):
        wilson(11, 10)


# the offer pick ---------------------------------------------------------------------------------

VOUCHER = Terms(
    "voucher50", "A £50 voucher for every friend who becomes a client.", "a £50 voucher"
)
CHARITY = Terms("charity", "£50 to the food bank for every new client.", "£50 to the food bank")
OLD = Terms("old10", "A £10 voucher.", "a £10 voucher", retired=True)
SECRET = "test-secret-key-0123456789"


def advocate_codes(n: int) -> list[str]:
    """Codes shaped like real ones (token_urlsafe(9)), from a fixed seed: the test is exact."""
    rng = random.Random(20260302)
    return [base64.urlsafe_b64encode(rng.randbytes(9)).decode() for _ in range(n)]


def test_the_pick_is_stable_and_depends_on_the_secret() -> None:
    codes = advocate_codes(200)
    offers = [VOUCHER, CHARITY]
    first = [pick(SECRET, code, offers).id for code in codes]
    assert first == [pick(SECRET, code, offers).id for code in codes]  # same advocate, same offer
    other = [pick("another-install-secret", code, offers).id for code in codes]
    agree = sum(a == b for a, b in zip(first, other, strict=True))
    # another install picks independently: about half agree (binomial 200, ½: SD √50 = 7.1)
    assert abs(agree - 100) <= 4 * math.sqrt(50)


@pytest.mark.parametrize(
    "offers",
    [[VOUCHER, CHARITY], [VOUCHER, OLD, CHARITY], [VOUCHER, CHARITY, Terms("gift", "x", "y")]],
    ids=["two", "two-and-a-retired-one", "three"],
)
def test_the_pick_is_balanced_over_many_advocates(offers: list[Terms]) -> None:
    n = 2000
    active = [o.id for o in offers if not o.retired]
    counts = Counter(pick(SECRET, code, offers).id for code in advocate_codes(n))
    assert set(counts) == set(active)  # a retired offer is never picked
    p = 1 / len(active)
    expected, sd = n * p, math.sqrt(n * p * (1 - p))  # two: 1000 ± 22.4; three: 666.7 ± 21.1
    for offer_id in active:
        assert abs(counts[offer_id] - expected) <= 4 * sd, (offer_id, counts)


def test_the_pick_needs_an_open_offer() -> None:
    with pytest.raises(ValueError, match="every offer is retired"):
        pick(SECRET, "code", [OLD])


# influence --------------------------------------------------------------------------------------


def facts(**given: Any) -> Facts:
    base: dict[str, Any] = {
        "customer_id": 1,
        "mark": None,
        "mark_source": None,
        "tags": (),
        "referrals": 0,
        "grade_a": 0,
        "testimonials": 0,
        "wins": 0,
    }
    return Facts(**(base | given))


WEIGHTS = {"board-member": 3.0, "community-leader": 2.5}


def test_influence_is_a_sum_with_its_reasons() -> None:
    assert influence(facts(), WEIGHTS).score == 0 and influence(facts(), WEIGHTS).reasons == ()
    # mark 5 + board-member 3 + 2 referrals (2·1) + 1 grade A (2) + 1 testimonial (1)
    #   + 1 win (3) = 5 + 3 + 2 + 2 + 1 + 3 = 16; "vip" carries no weight
    found = influence(
        facts(
            mark=5,
            mark_source="owner",
            tags=("vip", "board-member"),
            referrals=2,
            grade_a=1,
            testimonials=1,
            wins=1,
        ),
        WEIGHTS,
    )
    assert found.score == 16
    assert found.reasons == (
        "mark 5 (owner)",
        "tag board-member +3",
        "2 referrals +2",
        "1 grade A introduction +2",
        "1 testimonial +1",
        "1 win +3",
    )
    # a mark of 0 is the owner's word and is shown; fractional tag weights are summed as given
    zero = influence(facts(mark=0, mark_source="import", tags=("community-leader",)), WEIGHTS)
    assert zero.score == 2.5 and zero.reasons == ("mark 0 (import)", "tag community-leader +2.5")
    assert influence(facts(wins=2, referrals=2), {}).reasons == ("2 referrals +2", "2 wins +6")


@pytest.mark.parametrize(("given", "mark"), [(7, 7), ("7", 7), (" 10 ", 10), (0, 0), ("0", 0)])
def test_parse_mark_accepts_whole_numbers_0_to_10(given: object, mark: int) -> None:
    assert parse_mark(given) == mark


@pytest.mark.parametrize("given", [11, -1, "eleven", "7.5", 7.0, True, None, ""])
def test_parse_mark_refuses_anything_else(given: object) -> None:
    with pytest.raises(ValueError, match="whole number from 0 to 10"):
        parse_mark(given)


# the daily cap ----------------------------------------------------------------------------------

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
LIFE = timedelta(days=14)


def candidate(
    ask_id: int, influence: float, due: timedelta = timedelta(0), age: int = 1
) -> Candidate:
    return Candidate(ask_id, NOW + due, NOW - timedelta(days=age), influence)


def test_the_most_influential_go_first_the_rest_wait_with_reasons() -> None:
    found = ration(
        [candidate(1, 0), candidate(2, 5), candidate(3, 1), candidate(4, 9), candidate(5, 1)],
        now=NOW,
        cap=2,
        sent_today=0,
        next_day=NEXT_DAY,
        moment_life=LIFE,
    )
    assert found.send == [4, 2]
    assert sorted(found.hold) == [1, 3, 5] and found.drop == {}
    assert found.hold[3] == (
        "daily cap of 2 asks reached on 2026-03-03: influence 1 ranks 3rd of 5 asks for the day; "
        "waiting for the next day"
    )
    assert "ranks 4th of 5" in found.hold[5]  # equal influence: the older ask id first
    assert "ranks 5th of 5" in found.hold[1]


def test_places_already_used_today_and_places_kept_for_later_asks() -> None:
    asks = [candidate(1, 0), candidate(2, 6, due=timedelta(hours=3)), candidate(3, 4)]
    # one sent earlier today: one place left, kept for ask 2 (due at noon, most influential)
    kept = ration(asks, now=NOW, cap=2, sent_today=1, next_day=NEXT_DAY, moment_life=LIFE)
    assert kept.send == [] and sorted(kept.hold) == [1, 3]
    # no cap reached: all due now go, ask 2 waits for its time without a word
    free = ration(asks, now=NOW, cap=5, sent_today=0, next_day=NEXT_DAY, moment_life=LIFE)
    assert free.send == [3, 1] and free.hold == {} and free.drop == {}
    # over the cap already (the owner lowered it): nobody goes today
    over = ration(asks, now=NOW, cap=1, sent_today=3, next_day=NEXT_DAY, moment_life=LIFE)
    assert over.send == [] and sorted(over.hold) == [1, 3]


def test_a_moment_too_old_by_the_next_day_is_dropped_not_carried() -> None:
    # created 14 days before now: by the next day (15 hours on) older than 14 days
    found = ration(
        [candidate(1, 9), candidate(2, 0, age=14), candidate(3, 0, age=13)],
        now=NOW,
        cap=1,
        sent_today=0,
        next_day=NEXT_DAY,
        moment_life=LIFE,
    )
    assert found.send == [1] and list(found.hold) == [3]
    assert found.drop[2].endswith(
        "the moment of 2026-02-17 is more than 14 days old by the next day, so it is not "
        "carried over"
    )


def test_the_reward_issued_is_the_one_chosen() -> None:
    voucher, bank = "a £50 voucher", "£50 to the Harbour Food Bank"
    terms = Terms("standard", "A voucher or a donation.", voucher, (voucher, bank))
    vouchers = [voucher]
    assert issued(terms, bank, "choice", vouchers) == (bank, GIFT)  # never a code
    assert issued(terms, voucher, "choice", vouchers) == (voucher, "generated")
    assert issued(terms, None, "choice", vouchers) == (voucher, "generated")  # chose nothing
    assert issued(terms, "not offered", "choice", vouchers) == (voucher, "generated")
    assert issued(terms, bank, "choice", []) == (bank, GIFT)
    # promised choices before the owner moved to a code kind: the choice still stands
    assert issued(terms, bank, "pool", vouchers) == (bank, GIFT)
    assert issued(terms, voucher, "pool", vouchers) == (voucher, "pool")
    plain = Terms("standard", "A voucher.", "a thank-you voucher")
    assert issued(plain, None, "generated", []) == ("a thank-you voucher", "generated")


# config -----------------------------------------------------------------------------------------


def config_problems(tmp_path: Path, referrals: dict[str, Any]) -> list[str]:
    path = write_business(tmp_path, {"referrals": referrals})
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    return [str(p) for p in caught.value.problems]


def test_offers_and_influence_in_config(tmp_path: Path) -> None:
    path = write_business(
        tmp_path / "ok",
        {
            "referrals": {
                "offers": [
                    {"id": "voucher50", "text": "A £50 voucher.", "reward": "a £50 voucher"},
                    {"id": "old", "text": "A £10 voucher.", "retired": True},
                ],
                "influence": {"tags": {"board-member": 3}},
                "daily_ask_cap": 2,
            }
        },
    )
    settings = load_config(path, ENV).settings.referrals
    assert [o.id for o in settings.offers] == ["voucher50", "old"]
    assert settings.influence.tags == {"board-member": 3.0}
    assert settings.daily_ask_cap == 2 and settings.moment_life_days == 14


@pytest.mark.parametrize(
    ("referrals", "expected"),
    [
        (
            {
                "incentive": {"text": "A voucher."},
                "offers": [{"id": "a", "text": "A."}],
            },
            "config.toml: referrals: [referrals.incentive] and [[referrals.offers]] are both set",
        ),
        (
            {"offers": [{"id": "a", "text": "A."}, {"id": "a", "text": "B."}]},
            "config.toml: referrals: offer ids must differ: a appears more than once",
        ),
        (
            {"offers": [{"id": "a", "text": "A.", "retired": True}]},
            "config.toml: referrals: every offer is retired",
        ),
        (
            {"offers": [{"id": "Voucher 50", "text": "A."}]},
            'config.toml: referrals.offers.0.id: must be a short name such as "voucher50"',
        ),
        (
            {"offers": [{"id": "a", "txt": "A."}]},
            "config.toml: referrals.offers.0.txt: unknown key; did you mean 'text'?",
        ),
        (
            {"influence": {"tags": {"board-member": 11}}},
            "config.toml: referrals.influence.tags.board-member: Input should be less than or "
            "equal to 10, got 11",
        ),
        (
            {
                "offers": [{"id": "a", "text": "A.", "choices": ["x", "y"]}],
                "reward": {"kind": "pool"},
            },
            'config.toml: referrals.reward.kind: "pool" issues a code whatever the advocate '
            "chooses",
        ),
        (
            {"reward": {"voucher_choices": ["a thank-you voucher"]}},
            'config.toml: referrals.reward.voucher_choices: only with kind = "choice"',
        ),
        (
            {
                "incentive": {"choices": ["x", "y"]},
                "reward": {"kind": "choice", "voucher_choices": ["z"]},
            },
            "config.toml: referrals.reward.voucher_choices: 'z' is not offered: write it exactly "
            "as in the choices (x, y)",
        ),
        (
            {"daily_ask_cap": 0},
            "config.toml: referrals.daily_ask_cap: must be asks sent a day at most",
        ),
    ],
)
def test_offer_and_influence_mistakes_are_named(
    tmp_path: Path, referrals: dict[str, Any], expected: str
) -> None:
    found = config_problems(tmp_path, referrals)
    assert any(p.startswith(expected) for p in found), found
