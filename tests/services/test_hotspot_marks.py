"""源头治理 marks: stored with an audit trail, refused with the field and value named, told in the street's digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.services.test_analysis import CAOJIADU, JINGANSI, NOW, PLANTED, SUPERVISOR, order, planted  # noqa: F401
from tracker.models import HotspotEvent, HotspotMark, Order
from tracker.services.accounts import Actor
from tracker.services.orders.digests import build_digests
from tracker.services.stats import MarkRefused, active_marks, digest_lines, end_mark, hotspots, mark_hotspot

STREETS = ["静安寺街道", "曹家渡街道", "江宁路街道"]
DUCHAO = Actor(id="user:1", name="督察 李四", source="web")


def the_hotspot(session: Session):  # type: ignore[no-untyped-def]
    (spot,) = hotspots(session, viewer=SUPERVISOR, now=NOW).items
    return spot


def test_mark_update_end_are_audited(session: Session, planted: list[Order]) -> None:  # noqa: F811
    spot = the_hotspot(session)
    mark = mark_hotspot(
        session,
        hotspot=spot,
        street="静安寺街道",
        note="联系店主加装油烟净化器",
        streets=STREETS,
        actor=DUCHAO,
        now=NOW,
    )
    session.commit()
    assert (mark.status, mark.count_at_mark, mark.window_days, mark.street) == ("treating", 5, 90, "静安寺街道")
    mark_hotspot(session, hotspot=spot, street="曹家渡街道", note="移交", streets=STREETS, actor=DUCHAO, now=NOW)
    end_mark(session, mark_id=mark.id, actor=DUCHAO, now=NOW + timedelta(days=1))  # type: ignore[arg-type]
    session.commit()
    events = session.exec(select(HotspotEvent).order_by(HotspotEvent.id)).all()  # type: ignore[arg-type]
    assert [(e.action, e.street, e.actor_name) for e in events] == [
        ("mark", "静安寺街道", "督察 李四"),
        ("update", "曹家渡街道", "督察 李四"),
        ("end", "曹家渡街道", "督察 李四"),
    ]
    assert active_marks(session, viewer=SUPERVISOR) == []
    with pytest.raises(MarkRefused, match="不存在或已结束"):
        end_mark(session, mark_id=mark.id, actor=DUCHAO, now=NOW)  # type: ignore[arg-type]


def test_the_audit_trail_is_append_only(session: Session, planted: list[Order]) -> None:  # noqa: F811
    mark_hotspot(
        session, hotspot=the_hotspot(session), street="静安寺街道", note="", streets=STREETS, actor=DUCHAO, now=NOW
    )
    session.commit()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session.execute(sa.text("UPDATE hotspot_event SET note = 'x'"))
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("street", "note", "message"),
    [
        ("不存在街道", "", "字段“责任街镇”的值「不存在街道」不是已登记的街镇，未保存"),
        ("静安寺街道", "长" * 501, "字段“治理说明”过长（501 字，最多 500 字），未保存"),
        ("静安寺街道", "a\x00b", "字段“治理说明”中含有不可见的空字符"),
    ],
)
def test_a_bad_mark_is_refused_and_nothing_stored(
    session: Session,
    planted: list[Order],  # noqa: F811
    street: str,
    note: str,
    message: str,
) -> None:
    with pytest.raises(MarkRefused) as refused:
        mark_hotspot(
            session, hotspot=the_hotspot(session), street=street, note=note, streets=STREETS, actor=DUCHAO, now=NOW
        )
    assert message in refused.value.message
    session.rollback()
    assert session.exec(select(HotspotMark)).all() == []
    assert session.exec(select(HotspotEvent)).all() == []


def test_squads_see_the_marks_they_answer_for(session: Session, planted: list[Order]) -> None:  # noqa: F811
    mark_hotspot(
        session, hotspot=the_hotspot(session), street="静安寺街道", note="", streets=STREETS, actor=DUCHAO, now=NOW
    )
    assert len(active_marks(session, viewer=JINGANSI)) == 1
    assert active_marks(session, viewer=CAOJIADU) == []


def test_the_digest_tells_marks_and_new_hotspots(session: Session, planted: list[Order]) -> None:  # noqa: F811
    mark_hotspot(
        session,
        hotspot=the_hotspot(session),
        street="静安寺街道",
        note="加装净化器",
        streets=STREETS,
        actor=DUCHAO,
        now=NOW,
    )
    # a new place reaches its third order on a second day within the last 24 hours
    session.add_all(
        [
            order(70, NOW - timedelta(days=10), "曹家渡街道", "占道经营", "长寿路200号"),
            order(71, NOW - timedelta(days=9), "曹家渡街道", "占道经营", "长寿路２００号门口"),
            order(72, NOW - timedelta(hours=2), "江宁路街道", "占道经营", "上海市静安区长寿路200号对面"),
            order(73, NOW + timedelta(days=1, hours=1), "静安寺街道", "油烟扰民", PLANTED[2]),  # after marking
        ]
    )
    session.commit()
    lines = digest_lines(session, now=NOW)
    assert lines["静安寺街道"] == [
        "源头治理中：南京西路1000弄2支弄3号 油烟扰民，标记时近 90 天 5 件，现近 90 天 5 件，标记后新增 0 件；说明：加装净化器"
    ]
    assert lines["曹家渡街道"][0] == lines["江宁路街道"][0]  # told to every street its orders came from
    assert lines["曹家渡街道"][1].startswith("上周（2026-11-16 起）异常上升：占道经营 7 件")  # the fixture's burst
    assert lines["曹家渡街道"][0].startswith("新出现重复诉件热点：长寿路200号 占道经营，近 90 天 3 件")
    later = digest_lines(session, now=NOW + timedelta(days=2))
    assert "标记后新增 1 件" in later["静安寺街道"][0]
    assert not any("新出现" in line for told in later.values() for line in told)  # no longer new
    digests = {d.street: d for d in build_digests(session, now=NOW + timedelta(days=2), analysis=later)}
    assert "四、分析提示（重复诉件热点、源头治理、异常上升） 1 项" in digests["静安寺街道"].text
    assert "源头治理中：南京西路1000弄2支弄3号 油烟扰民" in digests["静安寺街道"].text
