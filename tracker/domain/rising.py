"""Rising problems (异常上升): is a week's count improbable under its own baseline? Standard library only.

The method, as the analysis page states it: the baseline is the mean weekly count of the previous
8 weeks (at least ``BASELINE_FLOOR``, so a quiet series is not divided by zero); a week is flagged
when its count is at least ``MIN_COUNT`` and the Poisson probability of a count at least that high
under the baseline is below ``ALPHA``.
"""

from __future__ import annotations

import math

BASELINE_WEEKS = 8
ALPHA = 0.01
MIN_COUNT = 5
BASELINE_FLOOR = 0.5


def poisson_upper_tail(count: int, mean: float) -> float:
    """P(X ≥ count) for X ~ Poisson(mean), summed in log space so large means do not underflow."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    # 1 − P(X ≤ count − 1); the lower sum is stable for the counts we see (≤ a few thousand)
    log_term = -mean  # log P(X = 0)
    lower = math.exp(log_term)
    for i in range(1, count):
        log_term += math.log(mean) - math.log(i)
        lower += math.exp(log_term)
    return max(0.0, 1.0 - lower) if lower < 0.999999 else _upper_sum(count, mean)


def _upper_sum(count: int, mean: float) -> float:
    """P(X ≥ count) summed upward from ``count`` (precise when the tail is tiny)."""
    log_term = -mean + count * math.log(mean) - math.lgamma(count + 1)
    total = 0.0
    i = count
    while True:
        term = math.exp(log_term)
        total += term
        if term < total * 1e-15 or i > count + 10_000:
            return total
        i += 1
        log_term += math.log(mean) - math.log(i)


def is_rise(count: int, baseline: float, *, alpha: float = ALPHA, min_count: int = MIN_COUNT) -> bool:
    """Whether ``count`` in one week is an alarm against a baseline mean of weekly counts."""
    if count < min_count:
        return False
    return poisson_upper_tail(count, max(baseline, BASELINE_FLOOR)) < alpha
