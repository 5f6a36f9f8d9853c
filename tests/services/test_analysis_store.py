"""The 分析 page stored by the nightly job: the same analysis back, per scope, used only on the day it was computed."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from tests.services.test_analysis import CAOJIADU, JINGANSI, NOW, SUPERVISOR, planted  # noqa: F401
from tracker.domain.roles import Role
from tracker.models import AnalysisSnapshot, Order
from tracker.services.accounts.users import Viewer
from tracker.services.stats import build_analysis, store_analyses, stored_analysis
from tracker.services.stats.analysis_store import from_content, to_content

STREETS = ["静安寺街道", "曹家渡街道", "江宁路街道"]


def test_round_trip_gives_the_same_analysis(session: Session, planted: list[Order]) -> None:  # noqa: F811
    marked = [("南京西路1000弄2支弄3号", "油烟扰民", NOW - timedelta(days=20))]
    result = build_analysis(session, viewer=SUPERVISOR, now=NOW, marked=marked)
    assert result.hotspots.items and result.marked == {("南京西路1000弄2支弄3号", "油烟扰民"): (5, 2)}
    assert from_content(to_content(result)) == result


def test_stored_per_scope_and_only_for_its_day(session: Session, planted: list[Order]) -> None:  # noqa: F811
    assert store_analyses(session, now=NOW, streets=STREETS, marked=[]) == 4
    session.commit()
    assert len(session.exec(select(AnalysisSnapshot)).all()) == 4
    district = stored_analysis(session, viewer=SUPERVISOR, now=NOW + timedelta(hours=5))
    assert district is not None and district[1] == NOW
    assert len(district[0].hotspots.items) == 1
    squad = stored_analysis(session, viewer=CAOJIADU, now=NOW)
    assert squad is not None and squad[0].hotspots.items == []
    assert stored_analysis(session, viewer=JINGANSI, now=NOW)[0].hotspots.items == district[0].hotspots.items  # type: ignore[index]
    assert stored_analysis(session, viewer=SUPERVISOR, now=NOW + timedelta(days=1)) is None  # yesterday's: not used
    assert stored_analysis(session, viewer=Viewer(9, "x", "x", Role.SQUAD, None), now=NOW) is None
    store_analyses(session, now=NOW + timedelta(days=1), streets=STREETS, marked=[])  # the next night replaces
    assert len(session.exec(select(AnalysisSnapshot)).all()) == 4
