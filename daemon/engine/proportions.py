"""Comparing two proportions, for offer tests: is one offer's referral rate really higher?

Pure arithmetic with the standard library (math.erfc gives the normal tail; no scipy):

- `wilson`: the Wilson score interval for one proportion x/n. Unlike the textbook p ± z·SE
  (Wald) it stays inside 0..1 and keeps its coverage when x is 0 or small.
- `z_test`: the two-proportion z-test with the pooled proportion under the null hypothesis
  "both rates are equal"; two-sided p-value.
- `newcombe`: the interval for the difference p2 − p1 by Newcombe's hybrid score method
  (his method 10, 1998), built from the two Wilson intervals. It behaves far better than the
  Wald interval for the difference when counts are small.

- `group_size`: how many in each group the z-test needs to find a difference as large as the
  one observed (5% two-sided, 80% power; the classic formula with the pooled rate under the null).

A test is only worth reading when each group has enough successes and failures for the normal
approximation: `enough_data` asks for at least 5 expected of each under the pooled rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, erfc, sqrt

Z95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal
Z80 = 0.8416212335729143  # the one-sided quantile for 80% power
ALPHA = 0.05
MIN_EXPECTED = 5  # successes and failures each group needs for the normal approximation


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """Group 2 against group 1 (the control): the difference in rates and whether it is real."""

    difference: Interval  # p2 − p1 with the Newcombe interval
    z: float
    p_value: float
    enough_data: bool

    @property
    def significant(self) -> bool:
        return self.enough_data and self.p_value < ALPHA


def _checked(x: int, n: int) -> None:
    if n <= 0 or not 0 <= x <= n:
        raise ValueError(f"a proportion needs 0 <= x <= n and n > 0, not {x}/{n}")


def wilson(x: int, n: int, z: float = Z95) -> Interval:
    """x successes out of n, with the Wilson score interval."""
    _checked(x, n)
    p = x / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p-value) for "x2/n2 differs from x1/n1", pooled standard error."""
    _checked(x1, n1)
    _checked(x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:  # both all-or-nothing the same way: no evidence of any difference
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, erfc(abs(z) / sqrt(2))


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval:
    """p2 − p1 with Newcombe's hybrid score interval (from the two Wilson intervals)."""
    one, two = wilson(x1, n1, z), wilson(x2, n2, z)
    d = two.estimate - one.estimate
    low = d - sqrt((two.estimate - two.low) ** 2 + (one.high - one.estimate) ** 2)
    high = d + sqrt((two.high - two.estimate) ** 2 + (one.estimate - one.low) ** 2)
    return Interval(d, low, high)


def compare(x1: int, n1: int, x2: int, n2: int) -> Comparison:
    """Group 2 against group 1: the Newcombe interval for the difference and the z-test."""
    z, p = z_test(x1, n1, x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    enough = all(n * pooled >= MIN_EXPECTED and n * (1 - pooled) >= MIN_EXPECTED for n in (n1, n2))
    return Comparison(newcombe(x1, n1, x2, n2), z, p, enough)


def group_size(p1: float, p2: float, z_alpha: float = Z95, z_power: float = Z80) -> int | None:
    """The size of each group at which the z-test finds p2 ≠ p1 with 80% power (at 5%, two-sided),
    were the true rates these; None when they are equal (no difference to find)."""
    if not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        raise ValueError(f"rates are between 0 and 1, not {p1} and {p2}")
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    top = z_alpha * sqrt(2 * mean * (1 - mean)) + z_power * sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return ceil(top * top / ((p1 - p2) ** 2))
