"""A small in-memory limit on requests per client address (a sliding window), and a small expiring cache.

For public read-only endpoints (Open311), where writing a row per request — as sign-in throttling does in
``login_attempt`` — would make every anonymous reader a database writer (on SQLite, a write-lock wait for
everyone). Each worker process keeps its own: with N workers an address gets at most N times the limit,
which is why the deploy's nginx limits the same path once for all of them. Time is a parameter; standard
library only, thread-safe (gunicorn's threads, a test server's).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds per key; at most ``max_keys`` keys remembered."""

    limit: int
    window: float
    max_keys: int = 10_000
    _hits: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, key: str, *, now: float) -> float:
        """Count a request of ``key`` at ``now``; 0 when it may go ahead, else the seconds until it may.

        A refused request is not counted, so hammering does not lengthen the wait.
        """
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently seen last
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            while len(self._hits) > self.max_keys:  # a spray of addresses cannot grow memory without end
                self._hits.popitem(last=False)
            return 0.0


@dataclass
class ExpiringCache:
    """Answers kept ``ttl`` seconds, at most ``max_entries`` of them (the least recently stored go first)."""

    ttl: float
    max_entries: int = 256
    _items: OrderedDict[str, tuple[float, object]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str, *, now: float) -> object | None:
        """The value stored under ``key`` if it is still fresh."""
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] <= now:
                self._items.pop(key, None)
                return None
            return found[1]

    def put(self, key: str, value: object, *, now: float) -> None:
        """Keep ``value`` until ``now + ttl`` (nothing is kept when ttl is 0)."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (now + self.ttl, value)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
