"""Proportions with Wilson score intervals: pass rates and grade shares of a spot check.

The Wilson interval (Wilson 1927; recommended by Newcombe 1998 and by Brown, Cai & DasGupta 2001)
stays inside 0–1 and behaves at 0 % and 100 %, where the textbook normal interval collapses to
a point; spot-check samples are small and pass rates near 100 % are common, so that matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from tracker.domain.errors import TrackerError


class IntervalError(TrackerError):
    """A proportion or confidence level is impossible; names the field and value."""


def z_for(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (0.95 → 1.959964…)."""
    if not 0 < confidence < 1:
        raise IntervalError(f"置信水平「{confidence}」无效：应大于 0 且小于 1，例如 0.95 表示 95%。")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for ``successes`` out of ``n``.

    With ``n == 0`` there is no evidence at all, and the interval is the whole range ``(0.0, 1.0)``
    (the limit of the formula as the sample shrinks): callers always get a tuple to show next to
    "n = 0" rather than a ``None`` to special-case. The bounds are exactly 0.0 at 0 successes and
    exactly 1.0 at ``n`` successes (the formula only reaches them up to rounding).
    """
    if n < 0:
        raise IntervalError(f"样本量「{n}」无效：不能为负数。")
    if not 0 <= successes <= n:
        raise IntervalError(f"符合数「{successes}」无效：应在 0 到样本量 {n} 之间。")
    z = z_for(confidence)
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Estimate:
    """A proportion observed in a sample, with its Wilson interval; ``rate`` is None when n = 0."""

    successes: int
    n: int
    rate: float | None
    low: float
    high: float
    confidence: float = 0.95

    def describe(self) -> str:
        """Chinese one-liner, e.g. ``80.0%（95% 置信区间 67.0%–88.8%，n = 50）``."""
        level = f"{self.confidence * 100:g}%"
        if self.rate is None:
            return f"无样本（n = 0，{level} 置信区间 0%–100%）"
        return f"{self.rate:.1%}（{level} 置信区间 {self.low:.1%}–{self.high:.1%}，n = {self.n}）"


def estimate(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """The observed proportion ``successes / n`` with its Wilson interval and sample size."""
    low, high = wilson(successes, n, confidence)
    return Estimate(successes, n, successes / n if n else None, low, high, confidence)
