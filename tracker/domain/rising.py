"""Rising problems (异常上升): is a week's count improbable under its own baseline? Standard library only.

The method, as the analysis page states it. Each street × category's weekly counts are taken as
Poisson with a constant rate; the question is whether the judged week's rate is higher than that of
the ``BASELINE_WEEKS`` weeks before it. Plugging the baseline mean into a Poisson tail treats an
estimate as the truth and raised 1.35 % false alarms at a nominal 1 % on stationary series (the
test in tests/services/test_analysis.py), so we use the exact test for two Poisson rates instead:
given the total ``n`` over the 9 weeks, the judged week's count is Binomial(n, 1/9) when nothing
changed, and the week is flagged when P(X ≥ count) < ``ALPHA`` and count ≥ ``MIN_COUNT`` (so
that 0 → 2 is never an alarm).
"""

from __future__ import annotations

import math

BASELINE_WEEKS = 8
ALPHA = 0.01
MIN_COUNT = 5


def binomial_upper_tail(count: int, total: int, share: float) -> float:
    """P(X ≥ count) for X ~ Binomial(total, share), summed in log space (exact for the counts we see)."""
    if count <= 0:
        return 1.0
    if count > total:
        return 0.0
    if share <= 0:
        return 0.0
    if share >= 1:
        return 1.0
    log_p, log_q = math.log(share), math.log1p(-share)
    base = math.lgamma(total + 1)
    terms = [
        base - math.lgamma(i + 1) - math.lgamma(total - i + 1) + i * log_p + (total - i) * log_q
        for i in range(count, total + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def rise_p_value(count: int, baseline_total: int, *, weeks: int = BASELINE_WEEKS) -> float:
    """How improbable ``count`` in the judged week is, next to ``baseline_total`` over ``weeks`` weeks before it."""
    return binomial_upper_tail(count, count + baseline_total, 1 / (weeks + 1))


def is_rise(
    count: int, baseline_total: int, *, weeks: int = BASELINE_WEEKS, alpha: float = ALPHA, min_count: int = MIN_COUNT
) -> bool:
    """Whether ``count`` in one week is an alarm against ``baseline_total`` orders in the ``weeks`` before it."""
    return count >= min_count and rise_p_value(count, baseline_total, weeks=weeks) < alpha
