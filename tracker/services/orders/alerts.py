"""Stage alerts: the overdue scan, set-based over the indexed open deadlines, and what squads see.

One statement raises the alerts of every open stage deadline that is due soon or overdue (no
loop over orders, no cap), one escalates, moves and resolves the open alerts against their stages. A level
only rises; an alert is resolved, never deleted; whether the stage was late stays on the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import ALERT_RANK, AlertThresholds
from tracker.domain.errors import TrackerError
from tracker.domain.overdue import LevelBounds, level_bounds
from tracker.domain.roles import is_district_wide
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import Alert, Digest, Order, OrderDeadline
from tracker.services.accounts import Viewer, log_refusal, scoped
from tracker.services.orders import notices
from tracker.services.orders.counts import LiveCounts, StageAlert, live_counts, open_stages


@dataclass(frozen=True)
class ScanResult:
    """Counts of one scan run."""

    raised: int
    escalated: int
    resolved: int
    open_by_level: dict[str, int]

    def summary(self) -> str:
        """The one line the scan prints per run."""
        levels = "，".join(
            f"{name} {self.open_by_level.get(level.value, 0)}"
            for level, name in ((AlertLevel.RED, "红"), (AlertLevel.YELLOW, "黄"), (AlertLevel.BLUE, "蓝"))
        )
        return f"预警扫描：新增 {self.raised}，升级 {self.escalated}，解除 {self.resolved}；当前未解除：{levels}"

    def counts(self) -> dict[str, object]:
        """For the job run record."""
        return {
            "raised": self.raised,
            "escalated": self.escalated,
            "resolved": self.resolved,
            "open": self.open_by_level,
        }


DEFAULT_THRESHOLDS = AlertThresholds()
LEVEL_OF_RANK = {rank: level.value for level, rank in ALERT_RANK.items()}


def blue_horizon(now: datetime, calendar: WorkCalendar, thresholds: AlertThresholds) -> datetime:
    """The end of the working day ``blue_working_days`` after today (Beijing time); see domain.overdue."""
    return level_bounds(now, calendar, thresholds).blue_until


def scan(
    session: Session, *, now: datetime, calendar: WorkCalendar, thresholds: AlertThresholds = DEFAULT_THRESHOLDS
) -> ScanResult:
    """Raise, escalate and resolve stage alerts as of ``now``; flushes.

    Two set-based statements, each one pass over an index, with no cap on how many rows they touch:

    1. raise: every open stage deadline due by the blue horizon that has no alert yet gets one
       (a scan of the open-deadline partial index by due time, a probe of ``alert.deadline_id``);
    2. update: every open alert joined to its deadline, written only where something changed: its
       level rises (never falls), its deadline moved (an approved extension, a calendar load), or its
       stage ended (resolved, not deleted; whether it was late stays on the stage).

    An unchanged run writes nothing. The counts are read back by the run's time stamp.
    """
    deadline = OrderDeadline.__table__  # type: ignore[attr-defined]
    alert = Alert.__table__  # type: ignore[attr-defined]
    bounds = level_bounds(now, calendar, thresholds)  # the one definition of the levels (domain.overdue)
    yellow_until, horizon = bounds.yellow_until, bounds.blue_until

    def rank_of(due: Any) -> Any:
        return case((due < now, 3), (due <= yellow_until, 2), else_=1)

    def level_of(due: Any) -> Any:
        return case(
            (due < now, AlertLevel.RED.value),
            (due <= yellow_until, AlertLevel.YELLOW.value),
            else_=AlertLevel.BLUE.value,
        )

    due = deadline.c.due_at
    unalerted = ~select(alert.c.id).where(alert.c.deadline_id == deadline.c.id).exists()
    new = select(
        deadline.c.id,
        deadline.c.order_id,
        deadline.c.stage,
        level_of(due),
        rank_of(due),
        due,
        literal(now, alert.c.raised_at.type),
        literal(now, alert.c.level_changed_at.type),
    ).where(deadline.c.completed_at.is_(None), due.is_not(None), due <= horizon, unalerted)
    columns = ["deadline_id", "order_id", "stage", "level", "level_rank", "due_at", "raised_at", "level_changed_at"]
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if on_postgresql else sqlite
    if on_postgresql:
        # A nested loop re-reads the alert table for every candidate stage, rows this very statement
        # inserted included (invisible, still scanned): quadratic when thousands are raised at once,
        # as the first scan does over a table the planner still thinks empty. The anti-join must hash.
        session.execute(text("SET LOCAL enable_nestloop = off"))
    else:
        # In stage order the new alerts' keys append to their indexes: a first scan's insert took
        # 5-6 s instead of 9 s. Not on PostgreSQL: its scan 10 minutes later measured 2.0 s with the
        # ORDER BY against 1.1 s without (the sort may steer the planner off the partial index).
        new = new.order_by(deadline.c.id)
    session.execute(  # a scan started by hand beside the scheduler's adds nothing twice
        dialect.insert(alert).from_select(columns, new).on_conflict_do_nothing(index_elements=[alert.c.deadline_id])
    )
    if on_postgresql:
        session.execute(text("RESET enable_nestloop"))
    ended = deadline.c.completed_at.is_not(None)
    rises = and_(~ended, due.is_not(None), rank_of(due) > alert.c.level_rank)
    moved = and_(due.is_not(None), due != alert.c.due_at)
    session.execute(
        update(alert)
        .where(alert.c.resolved_at.is_(None), deadline.c.id == alert.c.deadline_id, or_(ended, rises, moved))
        .values(
            level=case((rises, level_of(due)), else_=alert.c.level),
            level_rank=case((rises, rank_of(due)), else_=alert.c.level_rank),
            level_changed_at=case((rises, literal(now, alert.c.level_changed_at.type)), else_=alert.c.level_changed_at),
            due_at=func.coalesce(due, alert.c.due_at),
            resolved_at=case((ended, literal(now, alert.c.resolved_at.type)), else_=None),
        )
    )
    notices.enqueue_alert_notices(session, now=now)  # same transaction: an alert is told once it is stored
    raised = _count(session, alert.c.raised_at == now)
    escalated = _count(session, and_(alert.c.level_changed_at == now, alert.c.raised_at < now))
    resolved = _count(session, alert.c.resolved_at == now)
    by_rank = session.execute(  # by rank: counted from the open-alert index without reading rows
        select(alert.c.level_rank, func.count()).where(alert.c.resolved_at.is_(None)).group_by(alert.c.level_rank)
    ).all()
    open_by_level = {LEVEL_OF_RANK[rank]: count for rank, count in by_rank}
    session.flush()
    return ScanResult(raised, escalated, resolved, {str(k): int(v) for k, v in open_by_level.items()})


def _count(session: Session, condition: ColumnElement[bool]) -> int:
    alert = Alert.__table__  # type: ignore[attr-defined]
    return int(session.execute(select(func.count()).select_from(alert).where(condition)).scalar_one())


def open_alerts(session: Session, *, street: str | None = None, limit: int = 500) -> list[Alert]:
    """Unresolved alerts, worst first, optionally for one street's squad."""
    query = (
        sqlmodel_select(Alert)
        .join(Order, col(Order.id) == col(Alert.order_id))
        .where(col(Alert.resolved_at).is_(None))
        .order_by(col(Alert.level_rank).desc(), col(Alert.due_at))
        .limit(limit)
    )
    if street:
        query = query.where(Order.street == street)
    return list(session.exec(query).all())


@dataclass(frozen=True)
class AlertFilter:
    """What the alerts page is narrowed to (the street only for district-wide viewers)."""

    level: AlertLevel | None = None
    stage: Stage | None = None
    street: str | None = None

    def where(self, query: Any, *, with_level: bool = True) -> Any:
        """Apply the level and stage to a query over alerts (the street goes into the order scope)."""
        if with_level and self.level is not None:
            query = query.where(Alert.level == self.level.value)
        if self.stage is not None:
            query = query.where(Alert.stage == self.stage.value)
        return query


def viewer_alerts(
    session: Session,
    *,
    viewer: Viewer,
    bounds: LevelBounds,
    filters: AlertFilter = AlertFilter(),
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[StageAlert], int]:
    """A page of the viewer's open stages at a level now (most overdue first), each with its alert once raised;
    and how many there are. The levels and the count are the live ones of ``counts`` (domain.overdue)."""
    return open_stages(
        session,
        viewer=viewer,
        bounds=bounds,
        level=filters.level,
        stage=filters.stage,
        street=filters.street,
        limit=limit,
        offset=offset,
    )


def viewer_alert_counts(
    session: Session, *, viewer: Viewer, bounds: LevelBounds, filters: AlertFilter = AlertFilter()
) -> LiveCounts:
    """The viewer's open work per level under the filter's stage and street (its level is ignored), in orders
    and in stages: ``counts.live_counts``, the one count."""
    return live_counts(session, viewer=viewer, bounds=bounds, street=filters.street, stage=filters.stage)


def acknowledge_alert(session: Session, *, viewer: Viewer, alert_id: int, now: datetime) -> Alert | None:
    """Mark one of the viewer's alerts as seen (the first acknowledgement stays); None when not theirs or missing.

    A resolved alert is returned unchanged: there is nothing left to acknowledge.
    """
    query = scoped(
        sqlmodel_select(Alert).join(Order, col(Order.id) == col(Alert.order_id)).where(Alert.id == alert_id), viewer
    )
    alert = session.exec(query).first()
    if alert is None or alert.acknowledged_at is not None or alert.resolved_at is not None:
        return alert
    alert.acknowledged_at = now
    alert.acknowledged_by = viewer.label[:128]
    session.add(alert)
    session.flush()
    return alert


BULK_ACK_MAX = 200  # a page holds 100 alerts; more ids than this in one post is not a page


class BulkAckRefused(TrackerError):
    """A bulk acknowledgement refused as a whole: nothing was acknowledged."""


@dataclass(frozen=True)
class BulkAck:
    """What one bulk acknowledgement did."""

    acknowledged: list[Alert]
    already: int  # acknowledged before, by someone
    resolved: int  # the stage has ended since the page was shown


def acknowledge_alerts(session: Session, *, viewer: Viewer, alert_ids: list[int], now: datetime) -> BulkAck:
    """Mark several of the viewer's alerts as seen in one go, all or none; flushes.

    Every id must name an alert of the viewer's orders: one that does not (another street's, or none
    at all; the same answer for both) refuses the whole request and nothing is acknowledged, so a
    squad never half-confirms a page. Alerts already acknowledged or resolved are counted, not changed.
    """
    ids = sorted(set(alert_ids))
    if not ids:
        raise BulkAckRefused("请先勾选要确认的预警")
    if len(ids) > BULK_ACK_MAX:
        raise BulkAckRefused(f"一次最多确认 {BULK_ACK_MAX} 条预警，本次勾选了 {len(ids)} 条")
    query = scoped(
        sqlmodel_select(Alert).join(Order, col(Order.id) == col(Alert.order_id)).where(col(Alert.id).in_(ids)), viewer
    )
    found = {alert.id: alert for alert in session.exec(query.order_by(col(Alert.id)).with_for_update(of=Alert)).all()}
    unknown = [i for i in ids if i not in found]
    if unknown:
        theirs = [] if is_district_wide(viewer.role) else _existing_alert_ids(session, unknown)
        if theirs:  # another street's alerts: a refusal for the log (a missing id is not one)
            log_refusal(viewer, "alert_out_of_scope", alert_ids=theirs[:20])
        shown = "、".join(str(i) for i in unknown[:10]) + ("等" if len(unknown) > 10 else "")
        raise BulkAckRefused(
            f"预警编号 {shown} 不存在或不属于您可查看的工单，本次勾选的 {len(ids)} 条预警均未确认；请刷新页面后重新勾选"
        )
    done: list[Alert] = []
    already = resolved = 0
    for alert in found.values():
        if alert.resolved_at is not None:
            resolved += 1
        elif alert.acknowledged_at is not None:
            already += 1
        else:
            alert.acknowledged_at = now
            alert.acknowledged_by = viewer.label[:128]
            session.add(alert)
            done.append(alert)
    session.flush()
    return BulkAck(done, already, resolved)


def _existing_alert_ids(session: Session, ids: list[int]) -> list[int]:
    found = session.exec(sqlmodel_select(Alert.id).where(col(Alert.id).in_(ids)).order_by(col(Alert.id))).all()
    return [int(i) for i in found if i is not None]


def digest_streets(session: Session, *, viewer: Viewer) -> list[str]:
    """The streets whose digests the viewer may read (those that have one)."""
    if not is_district_wide(viewer.role):
        return [viewer.street] if viewer.street else []
    return list(session.exec(sqlmodel_select(Digest.street).distinct().order_by(col(Digest.street))).all())


def latest_digests(session: Session, *, viewer: Viewer, street: str | None = None) -> list[Digest]:
    """The newest digest of the viewer's street; district-wide: of ``street``, or every street's of the latest day."""
    if not is_district_wide(viewer.role):
        if not viewer.street or (street and street != viewer.street):
            return []
        street = viewer.street
    query = sqlmodel_select(Digest)
    if street:
        return list(session.exec(query.where(Digest.street == street).order_by(col(Digest.day).desc()).limit(1)).all())
    last_day = session.exec(sqlmodel_select(func.max(Digest.day))).one()
    if last_day is None:
        return []
    return list(session.exec(query.where(Digest.day == last_day).order_by(col(Digest.street))).all())
