"""源头治理 marks on hotspots (audited in hotspot_event), and the analysis lines of each street's morning digest."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pandas as pd
from sqlmodel import Session, col, select

from tracker.domain.deadlines import local_day_bounds
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role
from tracker.models import HotspotEvent, HotspotMark
from tracker.services.accounts import Actor, Viewer
from tracker.services.stats.analysis import (
    HOTSPOT_DAYS,
    Hotspot,
    find_hotspots,
    find_rises,
    marked_counts,
    rise_weeks,
)
from tracker.services.stats.frames import order_frame, overdue_ids

NOTE_MAX_CHARS = 500
TREATING, ENDED = "treating", "ended"
SYSTEM = Viewer(0, "system", "定时任务", Role.SUPERVISOR, None)  # the digest job reads the whole district


class MarkRefused(TrackerError):
    """A 源头治理 mark that cannot be stored as asked."""


def may_mark(viewer: Viewer) -> bool:
    """Only the bureau's supervisors put a place under 源头治理."""
    return viewer.role is Role.SUPERVISOR


def mark_hotspot(
    session: Session,
    *,
    hotspot: Hotspot,
    street: str,
    note: str,
    streets: list[str],
    actor: Actor,
    now: datetime,
    window_days: int = HOTSPOT_DAYS,
) -> HotspotMark:
    """Mark ``hotspot`` 源头治理中 with a responsible street and a note (or change them); audited; flushes."""
    note = note.replace("\r\n", "\n").strip()
    if street not in streets:
        raise MarkRefused(f"字段“责任街镇”的值「{street[:40]}」不是已登记的街镇，未保存")
    if len(note) > NOTE_MAX_CHARS:
        raise MarkRefused(f"字段“治理说明”过长（{len(note)} 字，最多 {NOTE_MAX_CHARS} 字），未保存")
    if "\x00" in note:
        raise MarkRefused("字段“治理说明”中含有不可见的空字符（NUL），未保存")
    mark = session.exec(
        select(HotspotMark).where(HotspotMark.place == hotspot.place, HotspotMark.category == hotspot.category)
    ).first()
    action = "mark"
    if mark is None:
        mark = HotspotMark(
            place=hotspot.place,
            category=hotspot.category,
            street=street,
            marked_at=now,
            marked_by=actor.id,
            marked_by_name=actor.name,
        )
    elif mark.status == TREATING:
        action = "update"
    if action == "mark":  # a new mark, or one that had ended: counting starts again from now
        mark.marked_at, mark.marked_by, mark.marked_by_name = now, actor.id, actor.name
        mark.count_at_mark, mark.window_days, mark.ended_at = hotspot.count, window_days, None
    mark.street, mark.note, mark.status = street, note, TREATING
    session.add(mark)
    session.flush()
    assert mark.id is not None  # flushed
    session.add(
        HotspotEvent(
            mark_id=mark.id, action=action, street=street, note=note, actor=actor.id, actor_name=actor.name, at=now
        )
    )
    session.flush()
    return mark


def end_mark(session: Session, *, mark_id: int, actor: Actor, now: datetime) -> HotspotMark:
    """End a 源头治理 mark (the place stays in the list while it is a hotspot); audited; flushes."""
    mark = session.get(HotspotMark, mark_id)
    if mark is None or mark.status != TREATING:
        raise MarkRefused(f"源头治理标记「{mark_id}」不存在或已结束")
    mark.status, mark.ended_at = ENDED, now
    session.add(mark)
    session.add(
        HotspotEvent(
            mark_id=mark_id,
            action="end",
            street=mark.street,
            note=mark.note,
            actor=actor.id,
            actor_name=actor.name,
            at=now,
        )
    )
    session.flush()
    return mark


def active_marks(session: Session, *, viewer: Viewer) -> list[HotspotMark]:
    """Marks under treatment the viewer may see (a squad: those its street answers for), newest first."""
    query = select(HotspotMark).where(HotspotMark.status == TREATING)
    if viewer.role is Role.SQUAD:
        query = query.where(HotspotMark.street == (viewer.street or ""))
    return list(session.exec(query.order_by(col(HotspotMark.marked_at).desc())).all())


def mark_events(session: Session, mark_ids: list[int]) -> dict[int, list[HotspotEvent]]:
    """The audit trail of each mark, oldest first."""
    events: dict[int, list[HotspotEvent]] = defaultdict(list)
    if mark_ids:
        rows = session.exec(
            select(HotspotEvent).where(col(HotspotEvent.mark_id).in_(mark_ids)).order_by(col(HotspotEvent.id))
        )
        for event in rows:
            events[event.mark_id].append(event)
    return events


def digest_lines(session: Session, *, now: datetime, days: int = HOTSPOT_DAYS) -> dict[str, list[str]]:
    """Per street, the analysis lines of the morning digest: new hotspots, places under 源头治理, last week's rises.

    A hotspot is new when it qualifies now but did not 24 hours ago; it is told to every street its orders
    came from. A mark is told to its responsible street, with the count since marking.
    """
    weeks = rise_weeks(now)
    split = now - timedelta(days=days)
    start = min(split - timedelta(days=days), local_day_bounds(weeks[0])[0])
    frame = order_frame(session, viewer=SYSTEM, start=start, end=now, with_address=True)
    frame["overdue"] = frame["id"].isin(overdue_ids(session, viewer=SYSTEM, start=split, end=now, now=now))
    lines: dict[str, list[str]] = defaultdict(list)
    two_windows = frame["dispatched"] >= pd.Timestamp(split - timedelta(days=days))
    today = find_hotspots(frame[two_windows], split=split)
    yesterday_frame = frame[two_windows & (frame["dispatched"] < pd.Timestamp(now - timedelta(days=1)))]
    yesterday = {(h.place, h.category) for h in find_hotspots(yesterday_frame, split=split - timedelta(days=1))}
    for spot in today:
        if (spot.place, spot.category) not in yesterday:
            for street in spot.streets:
                lines[street].append(
                    f"新出现重复诉件热点：{spot.place} {spot.category}，近 {days} 天 {spot.count} 件"
                    f"（{spot.first.date().isoformat()} 起），未办结 {spot.open} 件"
                )
    marks = active_marks(session, viewer=SYSTEM)
    counts = marked_counts(frame, split=split, marked=[(m.place, m.category, m.marked_at) for m in marks])
    for mark in marks:
        window, after = counts[(mark.place, mark.category)]
        lines[mark.street].append(
            f"源头治理中：{mark.place} {mark.category}，标记时近 {mark.window_days} 天 {mark.count_at_mark} 件，"
            f"现近 {days} 天 {window} 件，标记后新增 {after} 件" + (f"；说明：{mark.note}" if mark.note else "")
        )
    for rise in find_rises(frame, weeks):
        lines[rise.street].append(
            f"上周（{rise.week.isoformat()} 起）异常上升：{rise.category} {rise.count} 件，"
            f"前 8 周平均 {rise.baseline:.1f} 件"
        )
    return dict(lines)
