"""The Poisson upper tail against values worked out by hand, and the alarm rule's minimum count."""

from __future__ import annotations

import math

import pytest

from tracker.domain.rising import is_rise, poisson_upper_tail


@pytest.mark.parametrize(("count", "mean"), [(1, 1.0), (3, 2.0), (10, 4.5), (0, 3.0), (40, 10.0)])
def test_tail_matches_the_direct_sum(count: int, mean: float) -> None:
    lower = sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(count))
    assert poisson_upper_tail(count, mean) == pytest.approx(1 - lower, rel=1e-9, abs=1e-15)


def test_tiny_tails_stay_positive() -> None:
    tail = poisson_upper_tail(60, 2.0)
    assert 0 < tail < 1e-40


def test_zero_mean() -> None:
    assert poisson_upper_tail(1, 0.0) == 0.0
    assert poisson_upper_tail(0, 0.0) == 1.0


def test_alarm_rule() -> None:
    assert not is_rise(2, 0.0)  # 0 → 2 is below the minimum count
    assert is_rise(9, 2.0)  # P(X ≥ 9 | 2) ≈ 0.0002
    assert not is_rise(5, 3.0)  # P(X ≥ 5 | 3) ≈ 0.18
    assert not is_rise(20, 15.0)
