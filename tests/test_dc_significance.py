"""Paper 3's accuracy statistics against direct computations (exact binomial sums) and scipy.stats."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from scipy import stats

from beyondfid.distclass.significance import (
    SignificanceError,
    accuracy_record,
    binomial_ci,
    mean_std,
    p_value_vs_chance,
)


def _upper_tail(k: int, n: int, p: Fraction) -> float:
    """P(X >= k), X ~ Binomial(n, p), summed exactly in rationals."""
    return float(sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1)))


def _cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(0, k + 1))


@pytest.mark.parametrize("k,n,K", [(0, 10, 2), (5, 10, 2), (7, 10, 2), (10, 10, 2), (30, 40, 4), (520, 1000, 2),
                                   (560, 1000, 2), (13, 20, 3)])
def test_p_value_is_the_binomial_upper_tail(k, n, K):
    p = p_value_vs_chance(k, n, K)
    assert p == pytest.approx(_upper_tail(k, n, Fraction(1, K)), rel=1e-9, abs=1e-300)
    assert p == pytest.approx(stats.binomtest(k, n, 1 / K, alternative="greater").pvalue, rel=1e-9)


def test_p_value_orders_and_limits():
    assert p_value_vs_chance(0, 50, 2) == 1.0
    assert p_value_vs_chance(50, 50, 2) == pytest.approx(0.5**50, rel=1e-12)
    assert p_value_vs_chance(30, 50, 2) > p_value_vs_chance(40, 50, 2)
    # 500/1000 is chance: the one-sided p-value is just above one half
    assert 0.5 < p_value_vs_chance(500, 1000, 2) < 0.52


@pytest.mark.parametrize("k,n", [(0, 20), (1, 20), (10, 20), (19, 20), (20, 20), (480, 1000), (997, 1000)])
def test_clopper_pearson_interval_solves_its_defining_equations(k, n):
    lo, hi = binomial_ci(k, n, 0.95)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx(ref.low, abs=1e-10) and hi == pytest.approx(ref.high, abs=1e-10)
    # direct: P(X >= k | lo) = 0.025 and P(X <= k | hi) = 0.025 (exact tails of the binomial)
    if k > 0:
        assert 1 - _cdf(k - 1, n, lo) == pytest.approx(0.025, rel=1e-6)
    else:
        assert lo == 0.0
    if k < n:
        assert _cdf(k, n, hi) == pytest.approx(0.025, rel=1e-6)
    else:
        assert hi == 1.0
    assert lo <= k / n <= hi


def test_record_and_mean_std():
    r = accuracy_record(930, 1000, 2)
    assert r.accuracy == 0.93 and r.chance == 0.5 and r.ci_low < 0.93 < r.ci_high
    assert r.p_value < 1e-100
    assert r.percent().startswith("93.0 [")
    m, s = mean_std([0.9, 0.92, 0.94])
    assert m == pytest.approx(0.92) and s == pytest.approx(0.02)
    assert mean_std([0.7]) == (0.7, 0.0)


@pytest.mark.parametrize("args", [(11, 10, 2), (-1, 10, 2), (3, 0, 2), (3, 10, 1)])
def test_bad_counts_fail_clearly(args):
    with pytest.raises(SignificanceError):
        accuracy_record(*args)
