"""Open311 GeoReport v2: read by the published ``georeport`` client over a live server in JSON and XML, nothing
personal in any answer, off by default, bad filters and bounds answered as Open311 errors in Chinese, the rate
limit, caching headers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import xmltodict
from georeport import GeoReport
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from werkzeug.serving import make_server

from tests.conftest import seed
from tests.helpers import local
from tracker import create_app
from tracker.domain.addresses import street_number_address
from tracker.domain.deadlines import RuleTable
from tracker.domain.labels import STATE_LABELS
from tracker.domain.vocabulary import State
from tracker.models import Order, OrderDeadline, Street
from tracker.services.accounts.actors import Actor
from tracker.services.orders.actions import Context, NewOrder, create_order

NOW = local("2026-11-26 10:00")
BASE = "/open311/v2"
CLOSED_STATES = {State.CLOSED.value, State.RETURNED.value}
# orders written for these tests: a name, a phone and a flat in the text, a position, no category, too old
CRAFTED = (
    {
        "order_no": "OPEN311-A",
        "dispatched": "2026-11-20 09:30",
        "category": "油烟扰民",
        "street": "静安寺街道",
        "complainant": "欧阳建国",
        "phone": "13912345678",
        "address": "上海市静安区常德路500弄3号401室",
        "content": "我是欧阳建国，电话13912345678，住上海市静安区常德路500弄3号401室，楼下饭店油烟直排。",
        "extras": {"纬度": "31.225219", "经度": "121.445512"},
    },
    {
        "order_no": "OPEN311-B",
        "dispatched": "2026-11-21 14:00",
        "category": None,
        "street": "曹家渡街道",
        "complainant": "司马光明",
        "phone": "021-62781234",
        "address": "上海市静安区江宁路195号2单元301室",
        "content": "司马光明反映：楼道堆物，联系 18600001111，家里 021-62781234，或 +8613700001111。",
        "extras": {},
    },
    {
        "order_no": "OPEN311-OLD",
        "dispatched": "2026-08-10 10:00",
        "category": "噪声扰民",
        "street": "静安寺街道",
        "complainant": "诸葛亮亮",
        "phone": "18611112222",
        "address": "上海市静安区胶州路58号1202室",
        "content": "诸葛亮亮：夜间施工噪声。",
        "extras": {},
    },
)


@pytest.fixture
def make_app(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[Any]:
    """Build the app on the seeded test database with Open311 settings (on unless told otherwise)."""
    with Session(engine) as s:
        seed(s)
        s.commit()
    made = []

    def make(**overrides: Any) -> Any:
        config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "OPEN311": True}
        app = create_app({**config, "ATTACHMENT_DIR": str(tmp_path / "attachments"), **overrides})
        made.append(app)
        return app

    yield make
    for app in made:
        if "tracker_engine" in app.extensions:
            app.extensions["tracker_engine"].dispose()


def load_orders(app: Any, engine: Engine, calendar: Any) -> None:
    """The demo's 310 orders as of NOW, and the crafted ones."""
    result = app.test_cli_runner().invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        for spec in CRAFTED:
            data = {k: v for k, v in spec.items() if k != "dispatched"}
            order = NewOrder(source="12345", dispatched_at=local(spec["dispatched"]), request_type="投诉举报", **data)  # type: ignore[arg-type]
            ctx = Context(
                actor=Actor.importer("t1"), now=local(spec["dispatched"]), calendar=calendar, rules=RuleTable()
            )
            create_order(session, data=order, ctx=ctx)
        session.commit()


def db_orders(engine: Engine) -> list[Order]:
    with Session(engine) as session:
        return list(session.exec(select(Order)).all())


def squads(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.name: s.squad_name for s in session.exec(select(Street)).all()}


def as_list(value: Any) -> list[Any]:
    """xmltodict gives one child as a dict, several as a list."""
    return value if isinstance(value, list) else [value]


def expected(order: Order, squad_of: dict[str, str]) -> dict[str, Any]:
    """What the public may read of an order, worked out here from the database row."""
    return {
        "status": "closed" if order.state in CLOSED_STATES else "open",
        "status_notes": STATE_LABELS[State(order.state)],
        "service_code": order.category or "未分类",
        "agency_responsible": squad_of.get(order.street or ""),
        "address": street_number_address(order.address),
        "requested_datetime": order.dispatched_at.replace(microsecond=0),  # W3C times are to the second
    }


def seen(request: dict[str, Any]) -> dict[str, Any]:
    """The same fields as a client read them (JSON types or XML strings)."""
    return {
        "status": request["status"],
        "status_notes": request["status_notes"],
        "service_code": request["service_code"],
        "agency_responsible": request["agency_responsible"],
        "address": request["address"],
        "requested_datetime": datetime.fromisoformat(request["requested_datetime"]),
    }


@pytest.fixture
def live_server(make_app: Any, engine: Engine, calendar: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app with the test orders, served on a free local port; yields its Open311 root."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    app = make_app(OPEN311_RATE_LIMIT=10_000)
    load_orders(app, engine, calendar)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{BASE}"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_what_the_database_holds_for_the_public(
    live_server: str, engine: Engine, fmt: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        client = GeoReport(live_server, output_format=fmt)
        services = client.get_service_list()
        everything = as_list(client.get_service_requests())
        by_service = [
            r
            for s in as_list(services)
            for r in as_list(client.get_service_requests(service_code=s["service_code"]) or [])
        ]
        open_ones = as_list(client.get_service_requests(status="open"))
        one = client.get_service_request(everything[0]["service_request_id"])
        definition = client.get_service_definition("占道经营 / 无证设摊")  # a code with a slash and spaces
    squad_of = squads(engine)
    in_window = {o.id: o for o in db_orders(engine) if o.dispatched_at >= NOW - timedelta(days=90)}
    assert len(in_window) == 312  # the demo's 310 and two crafted ones; the 100-day-old one is outside the window
    for answer in (everything, by_service):
        assert sorted(int(r["service_request_id"]) for r in answer) == sorted(in_window)
        for r in answer:
            assert seen(r) == expected(in_window[int(r["service_request_id"])], squad_of)
    assert {int(r["service_request_id"]) for r in open_ones} == {
        i for i, o in in_window.items() if o.state not in CLOSED_STATES
    }
    assert one == everything[0]
    assert definition["service_code"] == "占道经营 / 无证设摊" and definition["attributes"] in ([], None)
    assert {s["service_code"] for s in as_list(services)} >= {o.category or "未分类" for o in in_window.values()}
    service = next(s for s in as_list(services) if s["service_code"] == "油烟扰民")
    assert service["group"] == "环境扰民" and service["type"] == "realtime"
    assert service["metadata"] in (False, "false")
    crafted = next(r for r in everything if r["address"] == "上海市静安区常德路500弄3号")
    assert float(crafted["lat"]) == 31.2252 and float(crafted["long"]) == 121.4455  # the export's, to ~11 m
    assert crafted["expected_datetime"].endswith("+08:00") and crafted["description"] is None


def personal_strings(engine: Engine) -> set[str]:
    """Every name, phone number, complaint and reply text, flat and full address the test database holds."""
    found: set[str] = set()
    for order in db_orders(engine):
        for value in (order.complainant, order.phone, order.contact_person, order.content, order.reply):
            if value and len(value) > 1:
                found.add(value)
        if order.address and street_number_address(order.address) != order.address:
            found.add(order.address)
    found.update({"401室", "301室", "1202室", "2单元", "18600001111", "13912345678", "62781234", "13700001111"})
    return found


def all_answers(client: Any) -> list[tuple[str, str]]:
    """Every Open311 answer the test data gives, in both formats, with every filter."""
    paths = ["discovery", "services", "requests"]
    queries = [
        "status=open",
        "status=closed",
        "status=open,closed",
        "start_date=2026-08-01&end_date=2026-10-01",
        "service_code=未分类",
        "service_code=油烟扰民,噪声扰民",
        "page_size=7&page=3",
    ]
    ids = [str(o) for o in range(1, 320)]
    answers = []
    for fmt in ("json", "xml"):
        urls = [f"{BASE}/{p}.{fmt}" for p in paths]
        urls += [f"{BASE}/requests.{fmt}?{q}" for q in queries]
        urls += [f"{BASE}/requests.{fmt}?service_request_id={','.join(ids)}"]
        urls += [f"{BASE}/requests/{i}.{fmt}" for i in ids]
        urls += [f"{BASE}/services/油烟扰民.{fmt}", f"{BASE}/requests.{fmt}?start_date=bad"]
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 400, 404), url
            answers.append((url, response.get_data(as_text=True)))
    return answers


def test_no_name_phone_complaint_text_or_flat_in_any_answer(make_app: Any, engine: Engine, calendar: Any) -> None:
    app = make_app(OPEN311_RATE_LIMIT=10_000)
    load_orders(app, engine, calendar)
    secrets = personal_strings(engine)
    assert "欧阳建国" in secrets and "13912345678" in secrets and len(secrets) > 300
    with time_machine.travel(NOW, tick=False):
        answers = all_answers(app.test_client())
    assert len(answers) > 600
    assert leaks(answers, secrets) == []
    assert any("上海市静安区常德路500弄3号" in body for _, body in answers)  # the building is public, the flat is not
    # the scan can fail: an answer that carried the complaint text would be caught
    order = next(o for o in db_orders(engine) if o.order_no == "OPEN311-B")
    assert leaks([("x", json.dumps({"description": order.content}, ensure_ascii=False))], secrets) != []


def leaks(answers: list[tuple[str, str]], secrets: set[str]) -> list[tuple[str, str]]:
    """Which answer carries which personal string."""
    return [(url, s) for url, body in answers for s in secrets if s in body]


def test_with_the_description_setting_the_text_is_shown_masked(make_app: Any, engine: Engine, calendar: Any) -> None:
    app = make_app(OPEN311_DESCRIPTION=True)
    load_orders(app, engine, calendar)
    order = next(o for o in db_orders(engine) if o.order_no == "OPEN311-A")
    with time_machine.travel(NOW, tick=False):
        body = app.test_client().get(f"{BASE}/requests/{order.id}.json").get_json()
    description = body[0]["description"]
    assert description == "我是欧***，电话139****5678，住上海市静安区常德路500弄3号，楼下饭店油烟直排。"


def test_with_the_description_setting_still_no_name_phone_or_flat_in_any_answer(
    make_app: Any, engine: Engine, calendar: Any
) -> None:
    app = make_app(OPEN311_RATE_LIMIT=10_000, OPEN311_DESCRIPTION=True)
    load_orders(app, engine, calendar)
    complaints = {o.content for o in db_orders(engine)}
    secrets = {s for s in personal_strings(engine) if s not in complaints}  # shown now, masked; replies never
    assert {"欧阳建国", "司马光明", "13912345678", "18600001111", "上海市静安区常德路500弄3号401室"} <= secrets
    with time_machine.travel(NOW, tick=False):
        answers = all_answers(app.test_client())
    assert leaks(answers, secrets) == []
    assert any("楼下饭店油烟直排" in body for _, body in answers)  # the setting does show the texts


def test_off_by_default_every_route_answers_404(app: Any, client: Any) -> None:
    assert app.config["OPEN311"] is False
    for path in ("discovery.json", "services.xml", "requests.json", "requests/1.json", "nothing"):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404, path
        assert "Open311 接口未启用" in response.get_data(as_text=True)
    assert client.get(f"{BASE}/services.json").get_json() == [
        {"code": 404, "description": "Open311 接口未启用（管理员可设置 TRACKER_OPEN311=1 开启）"}
    ]


def test_on_no_sign_in_is_asked_and_answers_are_cacheable(make_app: Any) -> None:
    client = make_app().test_client()
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=60" and response.headers["ETag"]
    again = client.get(f"{BASE}/services.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    discovery = xmltodict.parse(client.get(f"{BASE}/discovery.xml").get_data())["discovery"]
    assert discovery["endpoints"]["endpoint"]["url"] == "http://localhost/open311/v2"
    assert discovery["endpoints"]["endpoint"]["formats"]["format"] == ["text/xml", "application/json"]
    refused = client.get(f"{BASE}/requests.json?status=pending")
    assert refused.status_code == 400 and refused.headers["Cache-Control"] == "no-store"


def error_of(response: Any) -> tuple[int, str]:
    """The status and the one error description of an Open311 error answer (JSON or XML)."""
    if response.mimetype == "application/json":
        [error] = response.get_json()
        return response.status_code, f"{error['code']} {error['description']}"
    error = xmltodict.parse(response.get_data())["errors"]["error"]
    return response.status_code, f"{error['code']} {error['description']}"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start_date=2026-13-01", "参数 start_date 的值「2026-13-01」不是有效时间"),
        ("end_date=yesterday", "参数 end_date 的值「yesterday」不是有效时间"),
        ("start_date=2026-11-20&end_date=2026-11-01", "参数 end_date 的值「2026-11-01」早于 start_date"),
        ("start_date=2026-01-01&end_date=2026-11-01", "跨 304.0 天，超过上限 90 天"),
        ("status=pending", "参数 status 的值「pending」无效，可选：open、closed"),
        ("status=open&status=pending", "参数 status 的值「pending」无效"),  # a repeated parameter counts whole
        ("page_size=1001", "参数 page_size 的值「1001」超出范围：应为 1 至 1000 的整数"),
        ("page_size=0", "参数 page_size 的值「0」超出范围"),
        ("page=99999999999999999999", "参数 page 的值「99999999999999999999」超出范围：应为 1 至 1000000"),
        ("service_request_id=12,abc", "参数 service_request_id 中的「abc」不是服务请求编号"),
        (
            "service_request_id=" + ",".join(str(i) for i in range(1, 1002)),
            "列出 1001 个编号，超过上限：一次最多 1000 个",
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_filter_is_an_open311_error_naming_it(make_app: Any, query: str, words: str, fmt: str) -> None:
    response = make_app().test_client().get(f"{BASE}/requests.{fmt}?{query}")
    status, text = error_of(response)
    assert status == 400 and text.startswith("400 ") and words in text, text


@pytest.mark.parametrize(
    "query",
    [
        "start_date=2026-08-28&end_date=2026-11-26",
        "page_size=1000",
        "page=1000000",
        "service_request_id=1,2",
        "status=open&status=closed",
        "service_code=渣土&service_code=群租",
    ],
)
def test_a_filter_at_its_bound_is_answered(make_app: Any, query: str) -> None:
    response = make_app().test_client().get(f"{BASE}/requests.json?{query}")
    assert response.status_code == 200 and response.get_json() == []


def test_paging_stays_within_the_page_size_and_links_the_next_page(
    make_app: Any, engine: Engine, calendar: Any
) -> None:
    app = make_app(OPEN311_MAX_PAGE_SIZE=50, OPEN311_RATE_LIMIT=10_000)
    load_orders(app, engine, calendar)
    client = app.test_client()
    pages, url = [], f"{BASE}/requests.json"
    with time_machine.travel(NOW, tick=False):
        while url:
            response = client.get(url)
            pages.append(response.get_json())
            link = response.headers.get("Link", "")
            url = link[1 : link.index(">")].removeprefix("http://localhost") if link else ""
        too_many = client.get(f"{BASE}/requests.json?page_size=51")
        old = client.get(f"{BASE}/requests.json?start_date=2026-08-01&end_date=2026-09-01").get_json()
    assert [len(p) for p in pages] == [50] * 6 + [12]
    assert len({r["service_request_id"] for p in pages for r in p}) == 312
    assert error_of(too_many)[0] == 400 and "应为 1 至 50 的整数" in error_of(too_many)[1]
    assert [r["address"] for r in old] == ["上海市静安区胶州路58号"]  # outside the default 90 days, asked for by date


def test_the_rate_limit_is_per_address_and_answers_429(make_app: Any) -> None:
    app = make_app(OPEN311_RATE_LIMIT=3, OPEN311_RATE_WINDOW_SECONDS=3600)
    one, other = app.test_client(), app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert [one.get(f"{BASE}/services.json").status_code for _ in range(3)] == [200, 200, 200]
    refused = one.get(f"{BASE}/requests.xml")
    status, text = error_of(refused)
    assert status == 429 and "每个地址每 3600 秒最多 3 次" in text
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert other.get(f"{BASE}/services.json").status_code == 200


def test_posting_a_request_is_refused_in_open311_words(make_app: Any) -> None:
    client = make_app().test_client()
    response = client.post(f"{BASE}/requests.json", data={"service_code": "油烟扰民", "description": "x"})
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"
    assert "不受理在线提交诉求" in error_of(response)[1]


def test_unknown_ids_paths_and_jurisdictions_are_open311_404s(make_app: Any) -> None:
    client = make_app(OPEN311_JURISDICTION="jingan.sh.cn").test_client()
    assert error_of(client.get(f"{BASE}/requests/999.json")) == (404, "404 服务请求「999」不存在")
    assert error_of(client.get(f"{BASE}/requests/abc.xml")) == (404, "404 服务请求「abc」不存在")
    assert error_of(client.get(f"{BASE}/requests.csv"))[0] == 404
    assert error_of(client.get(f"{BASE}/services/没有这类.json"))[0] == 404
    assert client.get(f"{BASE}/services.json?jurisdiction_id=jingan.sh.cn").status_code == 200
    wrong = client.get(f"{BASE}/services.json?jurisdiction_id=elsewhere")
    assert error_of(wrong)[0] == 404 and "只服务「jingan.sh.cn」" in error_of(wrong)[1]
    assert json.loads(client.get(f"{BASE}/discovery.json").get_data())["endpoints"][0]["type"] == "production"


def test_expected_is_the_closure_deadline_and_an_anonymised_order_stays_without_address(
    make_app: Any, engine: Engine, calendar: Any
) -> None:
    app = make_app()
    load_orders(app, engine, calendar)
    with Session(engine) as session:
        order = session.exec(select(Order).where(Order.order_no == "OPEN311-A")).one()
        due = session.exec(
            select(OrderDeadline.due_at).where(OrderDeadline.order_id == order.id, OrderDeadline.stage == "closure")
        ).one()
        gone = session.exec(select(Order).where(Order.order_no == "OPEN311-B")).one()
        gone.address, gone.complainant, gone.phone, gone.content, gone.anonymised_at = None, None, None, None, NOW
        session.add(gone)
        session.commit()
        ids = (order.id, gone.id)
    with time_machine.travel(NOW, tick=False):
        body = app.test_client().get(f"{BASE}/requests.json?service_request_id={ids[0]},{ids[1]}").get_json()
    found = {r["service_request_id"]: r for r in body}
    assert datetime.fromisoformat(found[str(ids[0])]["expected_datetime"]) == due.replace(microsecond=0)
    assert found[str(ids[0])]["agency_responsible"] == "静安寺街道综合行政执法队"
    assert found[str(ids[1])]["address"] is None and found[str(ids[1])]["service_code"] == "未分类"


def test_each_worker_reuses_an_answer_until_it_expires(make_app: Any, engine: Engine, calendar: Any) -> None:
    kept, fresh = make_app(OPEN311_CACHE_SECONDS=600), make_app(OPEN311_CACHE_SECONDS=0)
    url = f"{BASE}/services.json"
    before = [app.test_client().get(url).get_json() for app in (kept, fresh)]
    assert before[0] == before[1] == []
    load_orders(kept, engine, calendar)
    assert kept.test_client().get(url).get_json() == []  # the same answer for the next minutes
    assert len(fresh.test_client().get(url).get_json()) == 17  # 16 categories of the demo and 未分类
