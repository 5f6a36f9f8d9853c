"""The 分析 page: the planted hotspot and rise shown with links, squad scope, no personal data, bad window named."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.services.test_analysis import NOW, PLANTED, noise, order


def plant(engine: Engine) -> None:
    with Session(engine) as session:
        rows = noise(np.random.default_rng(3), 60, NOW - timedelta(days=25), 20, 1000)
        days = [80, 60, 30, 12, 2]
        rows += [
            order(i, NOW - timedelta(days=d, hours=3), "静安寺街道", "油烟扰民", a)
            for i, (d, a) in enumerate(zip(days, PLANTED, strict=True), start=1)
        ]
        session.add_all(rows)
        session.commit()


@time_machine.travel(NOW, tick=False)
def test_supervisor_sees_the_hotspot_without_personal_data(as_role, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    plant(engine)
    page = as_role("supervisor").get("/analysis/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "重复诉件热点（1 处）" in text
    row = re.search(r'<tr class="hotspot">(.*?)</tr>', text, re.S)
    assert row and "南京西路1000弄2支弄3号" in row.group(1) and "油烟扰民" in row.group(1)
    assert len(re.findall(r'href="/orders/\d+"', row.group(1))) == 5
    for personal in ("张三", "13812345678", "3号401", "3号402", "401室", "3-401"):
        assert personal not in text
    assert 'id="chart-heatmap"' in text and "二项分布" in text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)  # no inline script (CSP)
    assert not re.search(r"\sstyle=", text)


@time_machine.travel(NOW, tick=False)
def test_squads_see_their_street_only(client, people, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import sign_in

    plant(engine)
    sign_in(client, people["other_squad"])
    text = client.get("/analysis/").get_data(as_text=True)
    assert "重复诉件热点（0 处）" in text and "南京西路" not in text
    assert "本页只含 曹家渡街道 的工单" in text
    client.post("/logout")
    client2 = client.application.test_client()
    sign_in(client2, people["squad"])
    assert "重复诉件热点（1 处）" in client2.get("/analysis/").get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_a_bad_window_is_named_and_the_default_used(as_role) -> None:  # type: ignore[no-untyped-def]
    text = as_role("supervisor").get("/analysis/?days=abc").get_data(as_text=True)
    assert "筛选条件“统计窗口（天）”的值「abc」无效" in text
    assert 'name="days" min="7" max="366" value="90"' in text
    assert "值「3」无效" in as_role("supervisor").get("/analysis/?days=3").get_data(as_text=True)
    good = as_role("supervisor").get("/analysis/?days=30").get_data(as_text=True)
    assert 'value="30"' in good and "无效" not in good


@time_machine.travel(NOW, tick=False)
def test_the_nav_links_the_page(as_role) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/analysis/">分析</a>' in as_role("squad").get("/dashboard/").get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_supervisor_marks_a_hotspot_and_the_squad_sees_it(client, people, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import post, sign_in

    plant(engine)
    sign_in(client, people["supervisor"])
    form = {
        "place": "南京西路1000弄2支弄3号",
        "category": "油烟扰民",
        "days": "90",
        "street": "静安寺街道",
        "note": "加装净化器",
    }
    bad = post(client, "/analysis/marks", {**form, "street": "火星街道"}, follow_redirects=True).get_data(as_text=True)
    assert "标记未完成：字段“责任街镇”的值「火星街道」不是已登记的街镇，未保存" in bad
    assert "源头治理中的地点（0 处）" in bad
    missing = post(client, "/analysis/marks", {**form, "place": "无此地"}, follow_redirects=True).get_data(as_text=True)
    assert "「无此地 油烟扰民」不是当前窗口内的重复诉件热点" in missing
    page = post(client, "/analysis/marks", form, follow_redirects=True).get_data(as_text=True)
    assert "已将「南京西路1000弄2支弄3号 油烟扰民」标记为源头治理中。" in page
    assert "源头治理中的地点（1 处）" in page and "源头治理中（静安寺街道）" in page
    assert re.search(r"测试duchao 标记（静安寺街道）", page)
    client.post("/logout", data={"csrf_token": ""})
    squad = client.application.test_client()
    sign_in(squad, people["squad"])
    text = squad.get("/analysis/").get_data(as_text=True)
    assert "源头治理中的地点（1 处）" in text and "加装净化器" in text and "结束治理" not in text
    assert post(squad, "/analysis/marks", form).status_code == 403
    other = client.application.test_client()
    sign_in(other, people["other_squad"])
    assert "源头治理中的地点（0 处）" in other.get("/analysis/").get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_every_role_opens_the_page_over_the_demo_data(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    """Real-shaped data: the demo exports, every role."""
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output
    for role in ("admin", "supervisor", "squad"):
        page = as_role(role).get("/analysis/")
        assert page.status_code == 200, role
        assert "重复诉件热点" in page.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_the_hotspot_export_is_formula_safe_and_has_no_personal_data(as_role, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from io import BytesIO

    from openpyxl import load_workbook
    from sqlmodel import select

    from tracker.models import ExportLog

    plant(engine)
    with Session(engine) as session:  # a category as a hostile export could carry it
        session.add_all(
            order(500 + i, NOW - timedelta(days=d), "静安寺街道", '=HYPERLINK("http://x")', "华山路2号")
            for i, d in enumerate((3, 5, 9))
        )
        session.commit()
    response = as_role("supervisor").get("/analysis/hotspots.xlsx?days=90")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[1][:4] == ["地点（楼号）", "问题分类", "本期件数", "上期件数"]
    by_place = {r[0]: r for r in rows[2:]}
    assert by_place["华山路2号"][1] == '\'=HYPERLINK("http://x")'
    assert by_place["南京西路1000弄2支弄3号"][2:5] == [5, 0, 5]
    flat = " ".join(str(v) for r in rows for v in r if v is not None)
    for personal in ("张三", "13812345678", "3号401", "401室"):
        assert personal not in flat
    with Session(engine) as session:
        (entry,) = session.exec(select(ExportLog)).all()
        assert (entry.kind, entry.row_count, entry.parameters) == ("重复诉件热点", 2, {"days": "90"})
    squad = as_role("other_squad").get("/analysis/hotspots.xlsx")
    assert len(list(load_workbook(BytesIO(squad.data)).active.iter_rows())) == 2  # title and headers only


@time_machine.travel(NOW, tick=False)
def test_the_page_lists_the_busiest_hotspots_first_up_to_its_limit(as_role, engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import tracker.web.analysis

    plant(engine)
    with Session(engine) as session:
        session.add_all(
            order(600 + i, NOW - timedelta(days=d), "静安寺街道", "噪声扰民", "华山路9号")
            for i, d in enumerate((1, 4, 6))
        )
        session.commit()
    monkeypatch.setattr(tracker.web.analysis, "PAGE_HOTSPOTS", 1)
    text = as_role("supervisor").get("/analysis/").get_data(as_text=True)
    assert "重复诉件热点（2 处）" in text and "按件数从多到少显示前 1 处；全部 2 处见导出文件。" in text
    rows = re.findall(r'<tr class="hotspot">(.*?)</tr>', text, re.S)
    assert len(rows) == 1 and "南京西路1000弄2支弄3号" in rows[0]


@time_machine.travel(NOW, tick=False)
def test_the_page_reads_the_nightly_analysis_of_today(as_role, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tracker.services.stats import store_analyses

    plant(engine)
    with Session(engine) as session:
        store_analyses(session, now=NOW - timedelta(hours=8), streets=["静安寺街道", "曹家渡街道"], marked=[])
        session.add_all(
            order(600 + i, NOW - timedelta(days=d), "静安寺街道", "噪声扰民", "华山路9号")
            for i, d in enumerate((1, 4, 6))
        )
        session.commit()
    client = as_role("supervisor")
    stored = client.get("/analysis/").get_data(as_text=True)
    assert "重复诉件热点（1 处）" in stored  # as computed at night, before the new orders
    assert "数据由每晚的指标任务计算，截至 2026-11-26 02:00" in stored
    live = client.get("/analysis/?days=89").get_data(as_text=True)
    assert "重复诉件热点（2 处）" in live and "数据由每晚的指标任务计算" not in live
