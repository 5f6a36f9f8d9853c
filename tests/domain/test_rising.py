"""The binomial upper tail against the direct sum, and the alarm rule's minimum count."""

from __future__ import annotations

import math

import pytest

from tracker.domain.rising import binomial_upper_tail, is_rise, rise_p_value


@pytest.mark.parametrize(("count", "total", "share"), [(1, 1, 0.5), (3, 10, 1 / 9), (12, 28, 1 / 9), (0, 5, 0.2)])
def test_tail_matches_the_direct_sum(count: int, total: int, share: float) -> None:
    direct = sum(math.comb(total, i) * share**i * (1 - share) ** (total - i) for i in range(count, total + 1))
    assert binomial_upper_tail(count, total, share) == pytest.approx(direct, rel=1e-9, abs=1e-15)


def test_tiny_tails_stay_positive() -> None:
    tail = binomial_upper_tail(200, 400, 1 / 9)
    assert 0 < tail < 1e-40


def test_edges() -> None:
    assert binomial_upper_tail(3, 2, 0.5) == 0.0
    assert binomial_upper_tail(1, 5, 0.0) == 0.0


def test_alarm_rule() -> None:
    assert not is_rise(2, 0)  # 0 → 2 is below the minimum count
    assert is_rise(12, 16)  # 2 a week for 8 weeks, then 12
    assert rise_p_value(12, 16) < 1e-4
    assert not is_rise(7, 43)  # about 5 a week, then 7
    assert not is_rise(13, 83)  # about 10 a week, then 13
