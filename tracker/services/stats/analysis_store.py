"""The 分析 page stored each night per scope (the district, each street), so the page reads one row, not the orders."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from tracker.domain.deadlines import to_local
from tracker.domain.roles import Role, is_district_wide
from tracker.models import AnalysisSnapshot
from tracker.services.accounts import Viewer
from tracker.services.stats.analysis import Analysis, Hotspot, Hotspots, Rise, build_analysis
from tracker.services.stats.patterns import HourRate, Patterns

DISTRICT = ""


def to_content(result: Analysis) -> dict[str, Any]:
    """The analysis as JSON-ready data (times as ISO text)."""
    data = asdict(result)
    data["marked"] = [[p, c, w, s] for (p, c), (w, s) in result.marked.items()]
    content: dict[str, Any] = _iso(data)
    return content


def _iso(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def from_content(data: dict[str, Any]) -> Analysis:
    """The analysis back from ``to_content``."""
    h = data["hotspots"]
    items = [
        Hotspot(
            place=i["place"],
            category=i["category"],
            count=i["count"],
            previous=i["previous"],
            first=datetime.fromisoformat(i["first"]),
            last=datetime.fromisoformat(i["last"]),
            open=i["open"],
            overdue=i["overdue"],
            streets=tuple(i["streets"]),
            orders=tuple((int(o[0]), str(o[1])) for o in i["orders"]),
        )
        for i in h["items"]
    ]
    p = data["patterns"]
    patterns = Patterns(
        heatmap=p["heatmap"],
        months=p["months"],
        categories=p["categories"],
        hours=[HourRate(**r) for r in p["hours"]],
        friday_late=(p["friday_late"][0], p["friday_late"][1]),
        other_times=(p["other_times"][0], p["other_times"][1]),
    )
    rises = [
        Rise(r["street"], r["category"], date.fromisoformat(r["week"]), r["count"], r["baseline"], r["p_value"])
        for r in data["rises"]
    ]
    return Analysis(
        days=data["days"],
        hotspots=Hotspots(datetime.fromisoformat(h["start"]), datetime.fromisoformat(h["end"]), items),
        week=date.fromisoformat(data["week"]),
        rises=rises,
        patterns=patterns,
        marked={(m[0], m[1]): (m[2], m[3]) for m in data["marked"]},
    )


def store_analyses(
    session: Session, *, now: datetime, streets: list[str], marked: list[tuple[str, str, datetime]]
) -> int:
    """Compute and store the analysis of the district and of each street as of ``now``; flushes; returns how many."""
    scopes = [(DISTRICT, Viewer(0, "system", "定时任务", Role.SUPERVISOR, None))]
    scopes += [(street, Viewer(0, "system", "定时任务", Role.SQUAD, street)) for street in streets]
    for scope, viewer in scopes:
        content = to_content(build_analysis(session, viewer=viewer, now=now, marked=marked))
        row = session.exec(select(AnalysisSnapshot).where(AnalysisSnapshot.scope == scope)).first()
        row = row or AnalysisSnapshot(scope=scope, computed_at=now)
        row.computed_at, row.content = now, content
        session.add(row)
    session.flush()
    return len(scopes)


def stored_analysis(session: Session, *, viewer: Viewer, now: datetime) -> tuple[Analysis, datetime] | None:
    """The viewer's stored analysis and when it was computed, if computed on today's Beijing date."""
    if is_district_wide(viewer.role):
        scope = DISTRICT
    elif viewer.street:
        scope = viewer.street
    else:  # a squad user without a street sees nothing, never the district
        return None
    row = session.exec(select(AnalysisSnapshot).where(AnalysisSnapshot.scope == scope)).first()
    if row is None or to_local(row.computed_at).date() != to_local(now).date():
        return None
    return from_content(row.content), row.computed_at
