"""Accuracy with its uncertainty: binomial interval, classifier two-sample test, mean ± std over seeds.

A distribution classifier evaluated on ``n`` validation images gets ``k`` of them right. Under
H0 (all K distributions are the same) no classifier does better than chance, so
``k ~ Binomial(n, 1/K)`` when the K classes are balanced -- the classifier two-sample test of
Lopez-Paz & Oquab (ICLR 2017, Sec. 2-3: the test statistic is the held-out accuracy, its null
distribution Binomial(n, 1/2) for two samples). The paper under replication reports top-1
validation accuracy (Sec. 4 "Evaluation") without an interval; we add

* the exact (Clopper-Pearson) two-sided ``level`` interval for the accuracy ``p`` of the
  classifier: ``lo = B^-1(a/2; k, n-k+1)``, ``hi = B^-1(1-a/2; k+1, n-k)`` with ``a = 1-level``
  and ``B^-1`` the beta quantile (``lo = 0`` if ``k = 0``, ``hi = 1`` if ``k = n``);
* the one-sided p-value ``P(X >= k)`` for ``X ~ Binomial(n, 1/K)``, computed as the regularised
  incomplete beta ``I_{1/K}(k, n-k+1)`` (exact identity for the binomial upper tail).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy import special


class SignificanceError(ValueError):
    """Impossible counts or levels."""


def _check_counts(k: int, n: int) -> tuple[int, int]:
    if isinstance(k, bool) or isinstance(n, bool):
        raise SignificanceError("counts must be integers, not booleans")
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise SignificanceError(f"need 0 <= correct <= n and n >= 1, got correct={k}, n={n}")
    return k, n


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion from ``k`` of ``n``."""
    k, n = _check_counts(k, n)
    if not 0.0 < level < 1.0:
        raise SignificanceError(f"level must be in (0, 1), got {level}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, a / 2))
    hi = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1 - a / 2))
    return lo, hi


def p_value_vs_chance(k: int, n: int, n_classes: int) -> float:
    """One-sided p-value of ``k`` correct of ``n`` against chance ``1/n_classes``: ``P(X >= k)``,
    ``X ~ Binomial(n, 1/n_classes)`` (Lopez-Paz & Oquab's classifier two-sample test)."""
    k, n = _check_counts(k, n)
    if int(n_classes) < 2:
        raise SignificanceError(f"a classification task needs >= 2 classes, got {n_classes}")
    if k == 0:
        return 1.0
    return float(special.betainc(k, n - k + 1, 1.0 / int(n_classes)))


@dataclass(frozen=True)
class AccuracyRecord:
    """Validation top-1 of one classifier on one task, with its 95% interval and p-value vs chance."""

    correct: int
    n: int
    n_classes: int
    accuracy: float
    ci_low: float
    ci_high: float
    p_value: float
    chance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def percent(self) -> str:
        """``"97.3 [96.1, 98.2]"`` -- accuracy and interval in percent."""
        return f"{100 * self.accuracy:.1f} [{100 * self.ci_low:.1f}, {100 * self.ci_high:.1f}]"


def accuracy_record(correct: int, n: int, n_classes: int, level: float = 0.95) -> AccuracyRecord:
    """Accuracy ``correct / n`` with :func:`binomial_ci` and :func:`p_value_vs_chance`."""
    k, n = _check_counts(correct, n)
    lo, hi = binomial_ci(k, n, level)
    return AccuracyRecord(correct=k, n=n, n_classes=int(n_classes), accuracy=k / n, ci_low=lo, ci_high=hi,
                          p_value=p_value_vs_chance(k, n, n_classes), chance=1.0 / int(n_classes))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for a single value) over seeds."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise SignificanceError("mean_std needs at least one value")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def log10_p(p: float) -> float:
    """``log10`` of a p-value for display (``-inf`` kept for an underflowed 0)."""
    return -math.inf if p <= 0 else math.log10(p)
