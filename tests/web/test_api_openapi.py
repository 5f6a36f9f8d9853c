"""The OpenAPI 3.1 description of /api/v1: it validates, names every route, matches every answer for every role;
bad parameters are 400s naming the field and value in Chinese; list answers carry pagination links."""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlmodel import Session, select

from tests.helpers import local
from tests.web.test_api import bearer, load_demo, token_for
from tracker.models import Order
from tracker.web.api.openapi import OPERATIONS, document

NOW = local("2026-11-26 10:00")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
STREETS = ["静安寺街道", "曹家渡街道", "南京西路街道"]
ROLES = ("admin", "supervisor", "squad", "other_squad", "signed_out")
# per role and operation: 5 roles x 8 operations x 6 requests, about 12 s on SQLite; raise it for a deeper search
EXAMPLES = int(os.environ.get("TRACKER_API_PROPERTY_EXAMPLES", "6"))


def openapi_path(rule: str) -> str:
    """'/api/v1/orders/<int:order_id>' → '/api/v1/orders/{order_id}'."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_the_document_validates_and_is_served_to_a_signed_in_user(app, as_role) -> None:  # type: ignore[no-untyped-def]
    validate(document())
    served = as_role("squad").get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert served.get_json() == document()
    assert served.get_json()["openapi"] == "3.1.0"


def test_the_document_and_its_page_need_sign_in(app) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/v1/openapi.json", "/api/v1/docs"):
        response = app.test_client().get(path)
        assert response.status_code == 401 and response.get_json() == {"error": "未登录或令牌无效"}


def test_every_api_route_is_described(app) -> None:  # type: ignore[no-untyped-def]
    routes = {
        (openapi_path(rule.rule), method.lower(), rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    described = {
        (path, method, f"api.{operation['operationId']}")
        for path, item in document()["paths"].items()
        for method, operation in item.items()
    }
    assert routes == described
    assert {op.endpoint for op in OPERATIONS} == {endpoint for _, _, endpoint in routes}


def test_every_parameter_and_field_is_described_in_chinese() -> None:
    doc = document()
    for item in doc["paths"].values():
        for param in item["get"]["parameters"]:
            assert re.search(r"[\u4e00-\u9fff]", param["description"]), param
    for name, schema in doc["components"]["schemas"].items():
        assert re.search(r"[\u4e00-\u9fff]", schema.get("description", "")), name
        for field, prop in schema.get("properties", {}).items():
            assert re.search(r"[\u4e00-\u9fff]", prop.get("description", "")), (name, field)


def test_the_docs_page_lists_routes_parameters_and_schemas_without_scripts(as_role) -> None:  # type: ignore[no-untyped-def]
    response = as_role("squad").get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path in document()["paths"]:
        assert f"<code>{path}</code>" in page
    assert "dispatched_from" in page and "派单日期自" in page and 'href="#schema-OrdersPage"' in page
    assert 'id="schema-OrderDetail"' in page and "closed＝已办结" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


@pytest.mark.parametrize(
    ("query", "fields", "named"),
    [
        ("/api/v1/orders?sort=urgency&page=abc", {"sort", "page"}, "参数 page 的值「abc」不是正整数"),
        ("/api/v1/orders?closed_from=2026/11/01", {"closed_from"}, "参数 closed_from（办结日期自）的值「2026/11/01」"),
        ("/api/v1/orders?q=a%00b", {"q"}, "参数 q 的值「a\x00b」含有控制字符"),
        ("/api/v1/alerts?level=purple&page_size=0", {"level", "page_size"}, "可选：blue、yellow、red"),
        ("/api/v1/alerts?stage=close", {"stage"}, "参数 stage 的值「close」无效"),
        ("/api/v1/rates?from=2026-11-31", {"from"}, "参数 from（统计期间自）的值「2026-11-31」不是有效日期"),
        ("/api/v1/checks?to=2026-11-01&from=2026-11-02", {"to"}, "早于参数 from 的值「2026-11-02」"),
        ("/api/v1/checks?street=%0A静安寺街道%09x", {"street"}, "含有控制字符"),
        ("/api/v1/alerts?page=1000001", {"page"}, "参数 page 的值「1000001」超出范围：应为 1 至 1000000 的整数"),
        ("/api/v1/orders?page_size=" + "9" * 30, {"page_size"}, "超出范围"),
    ],
)
def test_bad_parameters_are_400_naming_each_field_and_value(as_role, query: str, fields: set[str], named: str) -> None:  # type: ignore[no-untyped-def]
    response = as_role("supervisor").get(query)
    assert response.status_code == 400
    body = response.get_json()
    assert {f["field"] for f in body["fields"]} == fields
    assert named in body["error"]
    assert all(f["message"] in body["error"] and f["message"].startswith("参数 ") for f in body["fields"])


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/orders?sort=deadline&page=1",
        "/api/v1/orders?closed_from=2026-11-01&state=open&q=%20",
        "/api/v1/alerts?level=red&page_size=1",
        "/api/v1/alerts?stage=closure&street=静安寺街道",
        "/api/v1/rates?from=2026-11-20",
        "/api/v1/checks?to=2026-11-02&from=2026-11-02&street=静安寺街道",
    ],
)
def test_good_parameters_beside_them_are_answered(as_role, query: str) -> None:  # type: ignore[no-untyped-def]
    response = as_role("supervisor").get(query)
    assert response.status_code == 200, response.get_json()
    assert "error" not in response.get_json()


@time_machine.travel(NOW, tick=False)
def test_list_answers_link_their_pages_keeping_the_filters(as_role, runner) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    client = as_role("supervisor")
    first = client.get("/api/v1/orders?state=closed&page_size=7").get_json()
    links = first["links"]
    assert links["prev"] is None and "page=2" in links["next"] and "state=closed" in links["next"]
    last_page = (first["total"] + 6) // 7
    assert f"page={last_page}" in links["last"] and links["self"].startswith("/api/v1/orders?")
    second = client.get(links["next"]).get_json()
    assert second["page"] == 2 and "page=1" in second["links"]["prev"]
    assert {o["id"] for o in second["orders"]}.isdisjoint({o["id"] for o in first["orders"]})
    final = client.get(links["last"]).get_json()
    assert final["links"]["next"] is None and final["orders"]
    beyond = client.get(f"/api/v1/orders?state=closed&page_size=7&page={last_page + 5}").get_json()
    assert beyond["orders"] == [] and f"page={last_page}" in beyond["links"]["prev"]

    alerts = client.get("/api/v1/alerts?page_size=1&level=red").get_json()
    assert alerts["total"] > 1 and "level=red" in alerts["links"]["next"] and alerts["links"]["prev"] is None


# --- the property test: every operation, every role, generated parameters, answers checked against the schemas ---


def answer_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one response schema, its references resolved against the document's components."""
    return Draft202012Validator({**schema, "components": document()["components"]})


def parameter_values(param: dict[str, Any], known: list[str]) -> st.SearchStrategy[str]:
    """Values for one parameter drawn from its schema (mostly valid), known values, or any short text."""
    schema = param["schema"]
    if "enum" in schema:
        valid: st.SearchStrategy[str] = st.sampled_from(schema["enum"])
    elif schema.get("format") == "date":
        valid = st.dates(date(2024, 1, 1), date(2027, 12, 31)).map(date.isoformat)
    elif schema.get("type") == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 2**31 - 1)
        valid = st.one_of(st.integers(low, low + 4), st.integers(low, high)).map(str)
    else:
        valid = st.sampled_from(known) if known else st.text(max_size=10)
    return st.one_of(valid, valid, st.text(max_size=12))


def request_strategy(path: str, operation: dict[str, Any], ids: list[int]) -> st.SearchStrategy[str]:
    """A URL for the operation: its path parameters filled in, a generated subset of its query parameters."""
    query = {
        p["name"]: parameter_values(p, STREETS if p["name"] == "street" else [])
        for p in operation["parameters"]
        if p["in"] == "query"
    }
    order_id = st.one_of(st.sampled_from(ids), st.integers(1, 2**31 - 1), st.integers(2**31, 2**64))
    return st.tuples(order_id, st.fixed_dictionaries({}, optional=query)).map(
        lambda drawn: (
            path.replace("{order_id}", str(drawn[0]))
            + ("?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in drawn[1].items()) if drawn[1] else "")
        )
    )


def check_answer(response: Any, operation: dict[str, Any], role: str, url: str) -> None:
    """The status is described, the body matches its schema, no mobile number shows, a squad sees its street.

    500 and 503 are described (they can happen) but never expected here: the database is up and current."""
    status = str(response.status_code)
    assert status in operation["responses"], (role, url, status)
    assert status not in ("500", "503"), (role, url, status, response.get_data(as_text=True))
    content = operation["responses"][status]["content"]
    assert response.mimetype in content, (role, url, response.mimetype)
    text = response.get_data(as_text=True)
    assert not MOBILE.search(text), (role, url)
    if response.mimetype != "application/json":
        return
    body = response.get_json()
    errors = sorted(answer_validator(content[response.mimetype]["schema"]).iter_errors(body), key=str)
    assert not errors, (role, url, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:3]])
    if role in ("squad", "other_squad") and status == "200":
        own = "静安寺街道" if role == "squad" else "曹家渡街道"
        lines = body.get("orders", []) + [a["order"] for a in body.get("alerts", [])]
        assert {line["street"] for line in lines} <= {own}, (role, url)


@time_machine.travel(NOW, tick=False)
def test_every_answer_of_every_operation_matches_its_schema_for_every_role(app, runner, engine, people) -> None:  # type: ignore[no-untyped-def]
    load_demo(runner)
    clients = {role: bearer(app, token_for(engine, people[role].username)) for role in ROLES if role != "signed_out"}
    clients["signed_out"] = app.test_client()
    with Session(engine) as session:
        ids = [o.id for o in session.exec(select(Order)).all() if o.id is not None][:50]
    for path, item in document()["paths"].items():
        for role in ROLES:
            property_check(clients[role], role, path, item["get"], ids)()


def property_check(client: Any, role: str, path: str, operation: dict[str, Any], ids: list[int]) -> Any:
    """A Hypothesis test of one operation for one role: generated requests, every answer checked."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(url=request_strategy(path, operation, ids))
    def answers_match(url: str) -> None:
        check_answer(client.get(url), operation, role, url)

    return answers_match
