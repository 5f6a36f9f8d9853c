"""Benchmarks (`make bench-*`): each prints its figures and one JSON line last."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The fastest of ``repeat`` runs of ``fn``, in milliseconds, and the last run's result."""
    times: list[float] = []
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), result
