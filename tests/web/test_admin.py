"""The administration pages: users, streets, categories, rules, calendar, job runs, reveal log; admin only."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import time_machine
from sqlmodel import Session, func, select

from tests.helpers import local
from tests.web.conftest import Person, post, sign_in
from tracker.domain.roles import Role
from tracker.models import (
    AppUser,
    CalendarDay,
    CalendarYear,
    Category,
    DeadlineRuleRow,
    JobRun,
    PhoneReveal,
    Street,
    UserSession,
)
from tracker.services.accounts.users import token_hash

ROOT = Path(__file__).resolve().parents[2]
CALENDAR_2026 = (ROOT / "docs" / "calendar-2026.toml").read_text(encoding="utf-8")
CALENDAR_2027 = """year = 2027
[[holidays]]
name = "元旦"
start = 2027-01-01
end = 2027-01-03
[[holidays]]
name = "春节"
start = 2027-02-06
end = 2027-02-13
[[workdays]]
date = 2027-02-14
name = "春节"
"""


def load_demo(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output


def text(response) -> str:  # type: ignore[no-untyped-def]
    return str(response.get_data(as_text=True))


def form_error(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'id="form-error">([^<]+)<', text(response))
    assert found, text(response)
    return found.group(1)


def count(engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return int(s.exec(query).one())


def user_named(engine, username: str) -> AppUser:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        user = s.exec(select(AppUser).where(AppUser.username == username)).one()
        s.expunge(user)
        return user


# --- who may open the pages


def admin_rules(app) -> list:  # type: ignore[no-untyped-def]
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]


def url_of(rule) -> str:  # type: ignore[no-untyped-def]
    return str(rule.build({name: 1 for name in rule.arguments})[1])


def test_supervisor_and_squad_get_403_on_every_admin_route(app, client, people, engine) -> None:  # type: ignore[no-untyped-def]
    rules = admin_rules(app)
    assert len(rules) >= 18  # every route is enumerated, so a new one is covered too
    streets_before = count(engine, Street)
    for role in ("supervisor", "squad"):
        sign_in(client, people[role])
        assert "管理</a>" not in text(client.get("/"))
        for rule in rules:
            url = url_of(rule)
            if "GET" in rule.methods:
                assert client.get(url).status_code == 403, (role, url)
            if "POST" in rule.methods:
                forged = {
                    "name": "越权街道",
                    "street_id": "1",
                    "squad_name": "越权",
                    "active": "0",
                    "text": CALENDAR_2027,
                }
                response = post(client, url, {**forged, "password": "x-1234567890"})
                assert response.status_code == 403, (role, url)
    assert count(engine, Street) == streets_before
    assert count(engine, Street, Street.active == False) == count(engine, Street, Street.squad_name == "越权") == 0  # noqa: E712
    assert count(engine, CalendarYear, CalendarYear.year == 2027) == 0
    assert count(engine, AppUser, AppUser.active == False) == 0  # noqa: E712


def test_admin_opens_every_page_and_no_get_changes_anything(app, as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    assert "管理</a>" in text(client.get("/"))
    pages = {url_of(rule) for rule in admin_rules(app) if "GET" in rule.methods}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        for form in re.findall(r'<form method="post".*?</form>', text(response), flags=re.S):
            assert 'name="csrf_token"' in form, (url, form[:200])
    post_only = {url_of(rule) for rule in admin_rules(app) if "POST" in rule.methods} - pages
    assert len(post_only) >= 6
    for url in post_only:
        assert client.get(url).status_code == 405, url  # state changes answer only to POST


def test_a_post_without_the_csrf_token_is_refused(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    response = client.post("/admin/streets/add", data={"name": "江宁路街道"})
    assert response.status_code == 400
    assert count(engine, Street, Street.name == "江宁路街道") == 0


def test_index_links_to_each_section_with_counts(as_role) -> None:  # type: ignore[no-untyped-def]
    page = text(as_role("admin").get("/admin/"))
    for href in ("users", "streets", "categories", "rules", "calendar", "jobs", "reveals"):
        assert f'href="/admin/{href}"' in page
    assert "4 个（启用 4 个）" in page  # the four test users
    assert "2 个（启用 2 个）" in page  # two streets
    assert "2 个年份" in page  # 2025 and 2026


# --- users


def new_user(**fields: str) -> dict[str, str]:
    return {
        "username": "wangmin",
        "display_name": "王敏",
        "role": "squad",
        "street": "静安寺街道",
        "password": "wangmin-pass-1",
        **fields,
    }


def test_create_user_and_list_it(as_role, client, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    response = post(admin, "/admin/users/create", new_user())
    assert response.status_code == 302
    page = text(admin.get("/admin/users"))
    assert "已新建用户 wangmin（执法队，静安寺街道）" in page
    assert re.search(r"<td>wangmin</td><td>王敏</td><td>执法队</td><td>静安寺街道</td>", page)
    assert user_named(engine, "wangmin").street == "静安寺街道"
    sign_in(client, Person("wangmin", "wangmin-pass-1", Role.SQUAD, "静安寺街道"))  # the new user signs in


def test_create_user_refusals_store_nothing(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    cases = {
        "用户名“admin”已存在": new_user(username="admin"),
        "密码至少 10 位（当前 5 位）": new_user(password="ab123"),
        "执法队用户必须绑定一个街镇": new_user(street=""),
        "街镇“江宁路街道”不在街镇名单中": new_user(street="江宁路街道"),
        "角色“root”无效": new_user(role="root"),
        "角色“督察”覆盖全区，不能绑定街镇（收到“静安寺街道”）": new_user(role="supervisor"),
        "姓名不能为空": new_user(display_name="  "),
    }
    for message, data in cases.items():
        response = post(admin, "/admin/users/create", data)
        assert response.status_code == 422, message
        assert message in form_error(response)
        assert 'value="王敏"' in text(response) or data["display_name"].strip() == ""  # the form keeps its values
    assert count(engine, AppUser) == 4


def test_disabling_a_user_ends_their_session_at_once(app, as_role, people, engine) -> None:  # type: ignore[no-untyped-def]
    squad = app.test_client()
    sign_in(squad, people["squad"])
    assert squad.get("/").status_code == 200
    admin = as_role("admin")
    user = user_named(engine, "jingansi")
    data = {"display_name": user.display_name, "role": "squad", "street": "静安寺街道"}  # "active" left unticked
    response = post(admin, f"/admin/users/{user.id}/update", data)
    assert response.status_code == 302
    following = squad.get("/")
    assert following.status_code == 302 and following.headers["Location"].startswith("/login")
    assert count(engine, UserSession, UserSession.user_id == user.id) == 0
    assert "已停用" in text(admin.get("/admin/users"))
    refused = squad.post("/login", data={"username": "jingansi", "password": people["squad"].password})
    assert refused.status_code != 302


def test_changing_a_street_ends_sessions_and_a_rename_does_not(app, as_role, people, engine) -> None:  # type: ignore[no-untyped-def]
    squad = app.test_client()
    sign_in(squad, people["squad"])
    admin = as_role("admin")
    user = user_named(engine, "jingansi")
    rename = {"display_name": "张三", "role": "squad", "street": "静安寺街道", "active": "1"}
    assert post(admin, f"/admin/users/{user.id}/update", rename).status_code == 302
    assert squad.get("/").status_code == 200  # a new name does not change what they may see
    assert post(admin, f"/admin/users/{user.id}/update", {**rename, "street": "曹家渡街道"}).status_code == 302
    assert squad.get("/").status_code == 302
    assert user_named(engine, "jingansi").street == "曹家渡街道"


def test_edit_user_refusals_keep_the_user_and_sessions(app, as_role, people, engine) -> None:  # type: ignore[no-untyped-def]
    squad = app.test_client()
    sign_in(squad, people["squad"])
    admin = as_role("admin")
    user_id = user_named(engine, "jingansi").id
    base = {"display_name": "张三", "role": "squad", "street": "静安寺街道", "active": "0"}
    for message, data in {
        "街镇“北站街道”不在街镇名单中": {**base, "street": "北站街道"},
        "角色“root”无效": {**base, "role": "root"},
        "角色“督察”覆盖全区，不能绑定街镇": {**base, "role": "supervisor"},
    }.items():
        response = post(admin, f"/admin/users/{user_id}/update", data)
        assert response.status_code == 422 and message in form_error(response)
    stored = user_named(engine, "jingansi")
    assert (stored.display_name, stored.street, stored.active) == ("测试jingansi", "静安寺街道", True)
    assert squad.get("/").status_code == 200


def test_an_admin_cannot_disable_or_demote_themselves(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    me = user_named(engine, "admin")
    page = text(admin.get(f"/admin/users/{me.id}"))
    assert "不能停用自己或更改自己的角色" in page and 'id="reset-password"' not in page
    disable = post(admin, f"/admin/users/{me.id}/update", {"display_name": "管理员", "role": "admin", "street": ""})
    assert disable.status_code == 422 and "不能停用自己的账号" in form_error(disable)
    demote = post(
        admin, f"/admin/users/{me.id}/update", {"display_name": "管理员", "role": "supervisor", "active": "1"}
    )
    assert demote.status_code == 422 and "不能更改自己的角色（当前为“管理员”）" in form_error(demote)
    reset = post(
        admin, f"/admin/users/{me.id}/password", {"password": "new-pass-1234", "confirm_password": "new-pass-1234"}
    )
    assert reset.status_code == 422 and "修改密码" in form_error(reset)
    stored = user_named(engine, "admin")
    assert (stored.role, stored.active, stored.display_name) == ("admin", True, "测试admin")
    assert admin.get("/admin/").status_code == 200  # still signed in
    rename = post(admin, f"/admin/users/{me.id}/update", {"display_name": "王管理", "role": "admin", "active": "1"})
    assert rename.status_code == 302 and user_named(engine, "admin").display_name == "王管理"


def test_password_reset_ends_sessions_and_bad_passwords_are_refused(app, as_role, people, engine) -> None:  # type: ignore[no-untyped-def]
    squad = app.test_client()
    sign_in(squad, people["squad"])
    admin = as_role("admin")
    user_id = user_named(engine, "jingansi").id
    url = f"/admin/users/{user_id}/password"
    short = post(admin, url, {"password": "abc12", "confirm_password": "abc12"})
    assert short.status_code == 422 and "密码至少 10 位（当前 5 位）" in form_error(short)
    mismatch = post(admin, url, {"password": "new-pass-1234", "confirm_password": "new-pass-12345"})
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in form_error(mismatch)
    assert squad.get("/").status_code == 200  # refusals end nothing
    response = post(admin, url, {"password": "new-pass-1234", "confirm_password": "new-pass-1234"})
    assert response.status_code == 302
    assert "其所有已登录的会话已失效" in text(admin.get(response.headers["Location"]))
    assert squad.get("/").status_code == 302
    sign_in(squad, Person("jingansi", "new-pass-1234", Role.SQUAD, "静安寺街道"))


def test_api_token_is_shown_once_and_only_its_hash_is_stored(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    user_id = user_named(engine, "duchao").id
    assert "API 令牌：无" in text(admin.get(f"/admin/users/{user_id}"))
    response = post(admin, f"/admin/users/{user_id}/token")
    assert response.status_code == 200 and "只显示这一次" in text(response)
    assert 'href="/api/v1/docs"' in text(response)  # where the token's user reads what the API answers
    token = re.search(r'id="api-token">([^<]+)<', text(response))
    assert token
    first = token.group(1)
    assert first.startswith("trk_") and len(first) > 30
    stored = user_named(engine, "duchao").api_token_hash
    assert stored == token_hash(first) and first not in (stored or "")
    later = text(admin.get(f"/admin/users/{user_id}"))
    assert first not in later and "API 令牌：已生成" in later
    again = re.search(r'id="api-token">([^<]+)<', text(post(admin, f"/admin/users/{user_id}/token")))
    assert again and again.group(1) != first
    assert user_named(engine, "duchao").api_token_hash == token_hash(again.group(1))


# --- streets, squads and categories


def test_streets_add_rename_squad_and_deactivate(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    assert post(admin, "/admin/streets/add", {"name": " 江宁路街道 ", "squad_name": ""}).status_code == 302
    page = text(admin.get("/admin/streets"))
    assert "已新增街镇 江宁路街道（江宁路街道综合行政执法队）" in page
    with Session(engine) as s:
        street = s.exec(select(Street).where(Street.name == "江宁路街道")).one()
    assert (
        post(
            admin, "/admin/streets/squad", {"street_id": str(street.id), "squad_name": "江宁路街道城管中队"}
        ).status_code
        == 302
    )
    assert "江宁路街道的执法队名称已改为 江宁路街道城管中队" in text(admin.get("/admin/streets"))
    assert '<option value="江宁路街道"' in text(admin.get("/admin/users"))
    assert post(admin, "/admin/streets/active", {"street_id": str(street.id), "active": "0"}).status_code == 302
    assert '<option value="江宁路街道"' not in text(admin.get("/admin/users"))  # no longer offered
    assert "已停用" in text(admin.get("/admin/streets"))
    assert post(admin, "/admin/streets/active", {"street_id": str(street.id), "active": "1"}).status_code == 302
    with Session(engine) as s:
        again = s.get(Street, street.id)
        assert again is not None and again.active and again.squad_name == "江宁路街道城管中队"


def test_street_refusals_store_nothing(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    no_street = post(admin, "/admin/streets/add", {"name": "", "squad_name": "某某综合行政执法队"})
    assert no_street.status_code == 422 and "街镇名称“”无效：不能为空" in form_error(no_street)
    assert 'value="某某综合行政执法队"' in text(no_street)
    duplicate = post(admin, "/admin/streets/add", {"name": "静安寺街道"})
    assert duplicate.status_code == 422 and "街镇“静安寺街道”已存在" in form_error(duplicate)
    with Session(engine) as s:
        street = s.exec(select(Street).where(Street.name == "静安寺街道")).one()
    blank = post(admin, "/admin/streets/squad", {"street_id": str(street.id), "squad_name": " "})
    assert blank.status_code == 422 and "执法队名称“”无效" in form_error(blank)
    missing = post(admin, "/admin/streets/active", {"street_id": "999", "active": "0"})
    assert missing.status_code == 422 and "街镇编号 999 不存在" in form_error(missing)
    forged = post(admin, "/admin/streets/active", {"street_id": "1 OR 1=1", "active": "0"})
    assert forged.status_code == 422 and "街镇编号「1 OR 1=1」不是整数" in form_error(forged)
    assert count(engine, Street, Street.active == False) == 0  # noqa: E712
    assert count(engine, Street) == 2
    assert count(engine, Street, Street.squad_name == "静安寺街道综合行政执法队") == 1


def test_categories_add_and_deactivate(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    assert post(admin, "/admin/categories/add", {"name": "油烟扰民"}).status_code == 302
    assert "已新增问题分类 油烟扰民" in text(admin.get("/admin/categories"))
    duplicate = post(admin, "/admin/categories/add", {"name": "油烟扰民"})
    assert duplicate.status_code == 422 and "问题分类“油烟扰民”已存在" in form_error(duplicate)
    empty = post(admin, "/admin/categories/add", {"name": " "})
    assert empty.status_code == 422 and "问题分类“”无效" in form_error(empty)
    assert count(engine, Category) == 1
    with Session(engine) as s:
        category = s.exec(select(Category)).one()
    assert post(admin, "/admin/categories/active", {"category_id": str(category.id), "active": "0"}).status_code == 302
    assert count(engine, Category, Category.active == False) == 1  # noqa: E712
    assert '<option value="油烟扰民"' not in text(admin.get("/"))  # the order filter no longer offers it


def test_adopt_streets_and_categories_from_orders(as_role, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    with Session(engine) as s:  # lists that lack some of what the orders carry
        for model, name in ((Street, "北站街道"), (Category, "噪声扰民")):
            row = s.exec(select(model).where(model.name == name)).first()
            if row is not None:
                s.delete(row)
        s.commit()
    streets_before, categories_before = count(engine, Street), count(engine, Category)
    admin = as_role("admin")
    response = post(admin, "/admin/directory/adopt", {"back": "categories"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/categories")
    streets, categories = count(engine, Street), count(engine, Category)
    assert streets > streets_before and categories > categories_before
    added = f"已从工单中补充街镇 {streets - streets_before} 个、问题分类 {categories - categories_before} 个"
    assert added in text(admin.get("/admin/categories"))
    assert count(engine, Street, Street.name == "北站街道") == count(engine, Category, Category.name == "噪声扰民") == 1
    post(admin, "/admin/directory/adopt")
    assert "已从工单中补充街镇 0 个、问题分类 0 个" in text(admin.get("/admin/streets"))
    assert count(engine, Street) == streets


# --- deadline rules


def rule_amount(engine, stage: str, request_type: str | None, urgency: str | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        row = s.exec(
            select(DeadlineRuleRow).where(
                DeadlineRuleRow.stage == stage,
                DeadlineRuleRow.request_type == request_type,
                DeadlineRuleRow.urgency == urgency,
            )
        ).one()
        return row.amount, row.unit


def test_rules_are_listed_in_chinese_and_edited(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    page = text(admin.get("/admin/rules"))
    assert "<td>先行联系</td><td>通用</td><td>紧急</td>" in page and "2 小时" in page
    assert "<td>办结</td><td>投诉举报</td><td>通用</td>" in page and "5 个工作日" in page
    with Session(engine) as s:
        row = s.exec(select(DeadlineRuleRow).where(DeadlineRuleRow.request_type == "投诉举报")).one()
    form = text(admin.get(f"/admin/rules?edit={row.id}"))
    assert 'value="投诉举报"' in form and '<option value="closure" selected>' in form
    rules_before = count(engine, DeadlineRuleRow)
    data = {"stage": "办结", "request_type": "投诉举报", "urgency": "", "amount": "4", "unit": "working_days"}
    assert post(admin, "/admin/rules/save", {**data, "note": "区局 2026 年通知"}).status_code == 302
    assert "规则已保存：办结·投诉举报：4 个工作日" in text(admin.get("/admin/rules"))
    assert rule_amount(engine, "closure", "投诉举报") == (4, "working_days")
    assert count(engine, DeadlineRuleRow) == rules_before
    new = {"stage": "supervision", "request_type": "", "urgency": "紧急", "amount": "8", "unit": "hours"}
    assert post(admin, "/admin/rules/save", new).status_code == 302
    assert rule_amount(engine, "supervision", None, "紧急") == (8, "hours")
    assert count(engine, DeadlineRuleRow) == rules_before + 1
    assert admin.get("/admin/rules?edit=9999").status_code == 404


def test_bad_rule_input_is_refused_with_the_clis_messages(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    good = {"stage": "closure", "request_type": "投诉举报", "urgency": "", "amount": "4", "unit": "working_days"}
    for message, data in {
        "办结期限「-1」应在 0–365 之间": {**good, "amount": "-1"},
        "办结期限「400」应在 0–365 之间": {**good, "amount": "400"},
        "期限数值「三」不是整数": {**good, "amount": "三"},
        "单位「fixed」不可用": {**good, "unit": "fixed"},
        "阶段「结案」不存在": {**good, "stage": "结案"},
    }.items():
        response = post(admin, "/admin/rules/save", data)
        assert response.status_code == 422 and message in form_error(response), message
    assert rule_amount(engine, "closure", "投诉举报") == (5, "working_days")


# --- holiday calendar


@time_machine.travel(local("2026-11-26 10:00"), tick=False)
def test_calendar_lists_years_and_loads_next_year_from_a_file(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    page = text(admin.get("/admin/calendar"))
    assert "<td>2026</td>" in page and "<td>2025</td>" in page and "chinesecalendar" in page
    assert "2027 年节假日安排尚未载入" in page
    upload = {"file": (io.BytesIO(CALENDAR_2027.encode()), "calendar-2027.toml")}
    response = post(admin, "/admin/calendar/load", upload, content_type="multipart/form-data")
    assert response.status_code == 200
    result = text(response)
    assert "已载入 2027 年节假日安排：节假日 11 天，调休补班 1 天；重算未办结工单期限 0 项。" in result
    assert "没有未办结工单的期限因此变化" in result
    assert "<td>网页上传 calendar-2027.toml</td>" in result and "管理员 测试admin" in result
    assert 'id="next-missing"' not in result
    assert count(engine, CalendarDay, CalendarDay.year == 2027) == 12


@time_machine.travel(local("2026-11-26 10:00"), tick=False)
def test_a_bad_calendar_file_changes_nothing(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    days = count(engine, CalendarDay)
    for message, pasted in {
        "节假日安排文件不是有效的 TOML（第 2 行": "year = 2027\n[[holidays]\n",
        "字段 year 应为 2000–2100 之间的年份": CALENDAR_2027.replace("year = 2027", "year = 27"),
        "字段 start 应为日期": CALENDAR_2027.replace("start = 2027-01-01", 'start = "2027-01-01"'),
        "请选择节假日安排文件": "  ",
    }.items():
        response = post(admin, "/admin/calendar/load", {"text": pasted})
        assert response.status_code == 422 and message in form_error(response), message
    replacing = CALENDAR_2026.replace("end = 2026-10-07", "end = 2026-09-07")  # ends before it starts
    response = post(admin, "/admin/calendar/load", {"text": replacing})
    assert "原有安排未作任何改动" in form_error(response)
    not_utf8 = {"file": (io.BytesIO(CALENDAR_2027.encode("gb18030")), "2027.toml")}
    response = post(admin, "/admin/calendar/load", not_utf8, content_type="multipart/form-data")
    assert response.status_code == 422 and "不是 UTF-8 编码" in form_error(response)
    assert count(engine, CalendarDay) == days
    assert count(engine, CalendarYear, CalendarYear.year == 2027) == 0
    with Session(engine) as s:
        year = s.get(CalendarYear, 2026)
        assert year is not None and year.source.startswith("chinesecalendar")


@time_machine.travel(local("2026-11-26 10:00"), tick=False)
def test_replacing_a_year_shows_which_open_deadlines_moved(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    admin = as_role("admin")
    extra = '\n[[holidays]]\nname = "临时休假"\nstart = 2026-11-27\nend = 2026-12-04\n'
    response = post(admin, "/admin/calendar/load", {"text": CALENDAR_2026 + extra})
    assert response.status_code == 200
    page = text(response)
    recomputed = re.search(r"已替换 2026 年节假日安排：节假日 \d+ 天，调休补班 6 天；重算未办结工单期限 (\d+) 项", page)
    assert recomputed and int(recomputed.group(1)) > 0
    assert f"期限有变化的未办结工单（{recomputed.group(1)} 项）" in page
    moved = re.findall(r'<a href="/orders/\d+">([^<]+)</a>', page.split('id="moved"')[1].split("</table>")[0])
    assert len(moved) == min(int(recomputed.group(1)), 500)
    assert re.search(r"<td>2026-11-2\d \d\d:\d\d</td>\s*<td>2026-12-\d\d \d\d:\d\d</td>", page)
    back = post(admin, "/admin/calendar/load", {"text": CALENDAR_2026})  # and back again: the same deadlines move back
    assert f"重算未办结工单期限 {recomputed.group(1)} 项" in text(back)


# --- job runs


def test_job_runs_with_outcomes_in_chinese_and_a_filter(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    start = local("2026-11-26 09:00")
    with Session(engine) as s:
        s.add(JobRun(job_id="scan", started_at=start, finished_at=start, outcome="ok", summary="新预警 3 条"))
        s.add(
            JobRun(
                job_id="inbox",
                scheduled_for=start,
                started_at=start + timedelta(minutes=1),
                outcome="error",
                summary="运行失败：收件箱不存在",
                error="Traceback (most recent call last): boom",
            )
        )
        s.add(JobRun(job_id="digest", started_at=start, outcome="skipped", summary="本进程不是当前的调度进程，未运行"))
        s.commit()
    admin = as_role("admin")
    page = text(admin.get("/admin/jobs"))
    for label in (
        "成功",
        "失败",
        "跳过",
        "新预警 3 条",
        "运行失败：收件箱不存在",
        "Traceback (most recent call last): boom",
    ):
        assert label in page
    assert "预警扫描" in page and "收件箱导入" in page
    assert page.index("收件箱不存在") < page.index("新预警 3 条")  # newest first
    only_scan = text(admin.get("/admin/jobs?job=scan"))
    assert "新预警 3 条" in only_scan and "收件箱不存在" not in only_scan and "跳过</td>" not in only_scan
    assert "没有运行记录" in text(admin.get("/admin/jobs?job=metrics"))


# --- phone reveals


@time_machine.travel(local("2026-11-26 10:00"), tick=False)
def test_reveal_log_newest_first_and_paginated(app, as_role, people, runner, engine) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    supervisor = app.test_client()
    sign_in(supervisor, people["supervisor"])
    assert post(supervisor, "/orders/1/phone", {"reason": "核查先行联系记录"}).status_code == 200
    admin = as_role("admin")
    page = text(admin.get("/admin/reveals"))
    assert "共 1 次" in page and "核查先行联系记录" in page and "督察 测试duchao" in page
    assert '<a href="/orders/1">' in page
    with Session(engine) as s:
        user = s.exec(select(AppUser).where(AppUser.username == "duchao")).one()
        for n in range(60):
            at = local("2026-11-20 08:00") + timedelta(minutes=n)
            s.add(PhoneReveal(user_id=user.id or 0, user_name="督察 测试", order_id=2, reason=f"事由{n:02d}", at=at))
        s.commit()
    first = text(admin.get("/admin/reveals"))
    assert "共 61 次，第 1 / 2 页" in first and "下一页" in first
    assert first.index("核查先行联系记录") < first.index("事由59") < first.index("事由58")
    assert "事由10" not in first  # 50 a page: the newest one and 59..11
    second = text(admin.get("/admin/reveals?page=2"))
    assert "事由10" in second and "事由00" in second and "事由11" not in second and "上一页" in second
