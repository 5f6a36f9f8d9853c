"""The nightly metrics snapshot of 热线通报核查: per street and 通报日期, 通报件数, 核查按时率 and 退回率 as
``metric_snapshot`` rows (the streets' all-category rows; the per-type split stays in the live numbers)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from tracker.domain.labels import NO_STREET
from tracker.models import MetricSnapshot
from tracker.services.accounts import Viewer
from tracker.services.verifications.numbers import DATE_BASIS, UNLINKED, check_numbers

CHECK_METRICS = ("notice_lines", "check_on_time", "check_returned")


def snapshot_check_day(session: Session, *, day: date, now: datetime, viewer: Viewer) -> int:
    """Store the 核查 numbers of the lines dated ``day`` per street (``viewer``: district-wide); flushes.

    Lines whose order is unknown, or whose order has no street, belong to no street and are not stored. Rows of
    an earlier run that this one does not produce are set to zero, as the order metrics do.
    """
    bureau = check_numbers(session, viewer=viewer, first=day, last=day, now=now)
    values: dict[tuple[str, str], tuple[float, float]] = {}
    for street in bureau.by_street_kind:
        if street in (UNLINKED, NO_STREET):
            continue
        numbers = check_numbers(session, viewer=viewer, first=day, last=day, now=now, street=street)
        values[(street, "notice_lines")] = (numbers.total, numbers.total)
        values[(street, "check_on_time")] = (numbers.on_time, numbers.due)
        values[(street, "check_returned")] = (numbers.returns, numbers.answers)
    existing = {
        (row.street, row.metric): row
        for row in session.exec(
            select(MetricSnapshot).where(
                MetricSnapshot.day == day, MetricSnapshot.category == "", col(MetricSnapshot.metric).in_(CHECK_METRICS)
            )
        ).all()
    }
    for key, row in existing.items():
        if key not in values:
            row.numerator = row.denominator = 0
            row.computed_at = now
            session.add(row)
    for (street, metric), (numerator, denominator) in sorted(values.items()):
        row = existing.get((street, metric)) or MetricSnapshot(
            day=day,
            street=street,
            category="",
            metric=metric,
            numerator=0,
            denominator=0,
            basis=DATE_BASIS,
            computed_at=now,
        )
        row.numerator, row.denominator, row.computed_at = numerator, denominator, now
        session.add(row)
    session.flush()
    return len(values)
