"""Small helpers shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.domain.deadlines import LOCAL_TZ


def local(text: str) -> datetime:
    """A Beijing time written as '2026-02-13 10:00', as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).astimezone(UTC)
