"""The numbers of 热线通报核查 for a period (domain.md §8): 通报件数 per street and type, 核查按时率, 退回率.

Date basis: the 通报日期 of each line (the day the centre issued it; a line without one counts on the day it
was imported). Scope as for orders: a squad counts its street's lines only (lines whose order is unknown
belong to no street and are counted for the bureau only).

- 核查按时率 = lines whose answer was accepted and had been submitted by the deadline / lines that are due
  (accepted, or still open past their deadline at ``now``); a line not yet due and not accepted is left out.
- 退回率 = answers sent back / answers submitted (each submission counts, a resubmission too).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from tracker.domain.deadlines import local_day_bounds
from tracker.domain.labels import NO_STREET
from tracker.domain.roles import is_district_wide
from tracker.domain.vocabulary import CheckAction, CheckStatus
from tracker.models import HotlineNotice, NoticeCheck, NoticeCheckEvent, Order
from tracker.services.accounts import Viewer, scoped

DATE_BASIS = "按通报日期统计（未填通报日期的按导入日期）"
UNLINKED = "（工单未导入）"


@dataclass
class CheckNumbers:
    """The period's 核查 numbers in the viewer's scope."""

    first: date
    last: date
    by_street_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # street → type → lines
    due: int = 0
    on_time: int = 0
    answers: int = 0
    returns: int = 0
    date_basis: str = DATE_BASIS

    @property
    def total(self) -> int:
        """通报件数 (lines) in the period."""
        return sum(sum(kinds.values()) for kinds in self.by_street_kind.values())

    @property
    def on_time_rate(self) -> float | None:
        """核查按时率, None when nothing is due yet."""
        return self.on_time / self.due if self.due else None

    @property
    def return_rate(self) -> float | None:
        """退回率, None when nothing was submitted."""
        return self.returns / self.answers if self.answers else None

    def as_json(self) -> dict[str, Any]:
        """For the API and the metrics snapshot."""
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "date_basis": self.date_basis,
            "total": self.total,
            "by_street_kind": self.by_street_kind,
            "on_time": {"numerator": self.on_time, "denominator": self.due, "rate": self.on_time_rate},
            "returned": {"numerator": self.returns, "denominator": self.answers, "rate": self.return_rate},
        }


def check_numbers(
    session: Session, *, viewer: Viewer, first: date, last: date, now: datetime, street: str | None = None
) -> CheckNumbers:
    """通报件数 per street and type, 核查按时率 and 退回率 of the lines dated in [first, last] (Beijing days);
    ``street`` narrows them to one street's (within the viewer's scope)."""
    start, end = local_day_bounds(first)[0], local_day_bounds(last)[1]
    imported = col(HotlineNotice.imported_at)
    dated = col(NoticeCheck.notice_date)
    in_period = or_(
        and_(dated.is_not(None), dated >= first, dated <= last),
        and_(dated.is_(None), imported >= start, imported < end),
    )

    def base(*columns: Any) -> Any:
        query = (
            sa_select(*columns)
            .select_from(NoticeCheck)
            .join(HotlineNotice, col(HotlineNotice.id) == col(NoticeCheck.notice_id))
            .outerjoin(Order, col(Order.id) == col(NoticeCheck.order_id))
            .where(in_period)
        )
        if street is not None:
            query = query.where(col(Order.street) == street)
        return query if is_district_wide(viewer.role) else scoped(query, viewer)

    result = CheckNumbers(first, last)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    place_column = col(Order.street)
    linked = col(NoticeCheck.order_id).is_not(None)
    kind_column = col(NoticeCheck.kind)
    for has_order, where, kind, n in session.execute(
        base(linked, place_column, kind_column, func.count()).group_by(linked, place_column, kind_column)
    ).all():
        place = (where or NO_STREET) if has_order else UNLINKED
        counts[place][str(kind)] = counts[place].get(str(kind), 0) + int(n)
    result.by_street_kind = {s: dict(sorted(k.items())) for s, k in sorted(counts.items())}
    accepted = col(NoticeCheck.status) == CheckStatus.ACCEPTED.value
    late_open = and_(~accepted, col(NoticeCheck.due_at) < now)
    punctual = and_(accepted, col(NoticeCheck.answered_at) <= col(NoticeCheck.due_at))
    due, on_time = session.execute(
        base(func.sum(case((or_(accepted, late_open), 1), else_=0)), func.sum(case((punctual, 1), else_=0)))
    ).one()
    result.due, result.on_time = int(due or 0), int(on_time or 0)
    action = col(NoticeCheckEvent.action)
    answers, returns = session.execute(
        base(
            func.sum(case((action == CheckAction.ANSWER.value, 1), else_=0)),
            func.sum(case((action == CheckAction.RETURN.value, 1), else_=0)),
        ).join(NoticeCheckEvent, col(NoticeCheckEvent.check_id) == col(NoticeCheck.id))
    ).one()
    result.answers, result.returns = int(answers or 0), int(returns or 0)
    return result
