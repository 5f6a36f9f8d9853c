"""Every route × every role: sign-in gate, role gates, scope, no writes on GET, CSRF on every POST.

The routes are read from the app's URL map, so a new route is walked without anyone remembering
to add it; a route with a parameter the walker cannot fill fails until PARAMS learns it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import BytesIO

import pytest
import time_machine
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.helpers import local
from tests.web.conftest import PEOPLE, csrf_token, sign_in
from tracker.models import (
    Alert,
    AppUser,
    HotlineNotice,
    ImportBatch,
    ImportUpload,
    NoticeCheck,
    Order,
    OrderAttachment,
    SampleItem,
    SamplePlan,
)
from tracker.services.operations.demo import SAMPLES

NOW = local("2026-11-26 10:00")
ROLES = ("admin", "supervisor", "squad")
ADMIN_ONLY = ("/admin", "/imports")
SUPERVISOR_ONLY = ("/spot-checks", "/notices")  # supervisors and administrators; a squad gets 403
OPEN = {"auth.login", "static"}
# probes for the process manager and Prometheus: open by design, no personal data (tests/operations)
PROBES = {"health.healthz", "health.readyz", "metrics.metrics"}
# public by design, no sign-in, nothing personal and off by default (tests/web/test_open311.py walks them)
OPEN_BLUEPRINTS = {"open311"}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _first(engine: Engine, query) -> object:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        value = session.exec(query).first()
    return value if value is not None else 999999


def _attachment_of_first_order(engine: Engine, street: str) -> object:
    """An attachment of the street's first order (the order PARAMS / FOREIGN name)."""
    first = select(Order.id).where(Order.street == street).order_by(col(Order.id)).limit(1).scalar_subquery()
    return _first(engine, select(OrderAttachment.id).where(OrderAttachment.order_id == first))


def _check_of_first_order(engine: Engine, street: str) -> object:
    """The 核查 on the street's first order (the world's notice names each street's first order)."""
    first = select(Order.id).where(Order.street == street).order_by(col(Order.id)).limit(1).scalar_subquery()
    return _first(engine, select(NoticeCheck.id).where(NoticeCheck.order_id == first))


# How to fill each URL parameter with a value that exists in the squad's scope (where scope applies).
PARAMS: dict[str, Callable[[Engine], object]] = {
    "order_id": lambda e: _first(e, select(Order.id).where(Order.street == "静安寺街道").order_by(col(Order.id))),
    "action_name": lambda e: "first_contact",
    "alert_id": lambda e: _first(
        e, select(Alert.id).join(Order, col(Order.id) == col(Alert.order_id)).where(Order.street == "静安寺街道")
    ),
    "upload_id": lambda e: _first(e, select(ImportUpload.id)),
    "batch": lambda e: _first(e, select(ImportBatch.batch)),
    "user_id": lambda e: _first(e, select(AppUser.id).order_by(col(AppUser.id))),
    "filename": lambda e: "app.css",
    "plan_id": lambda e: _first(e, select(SamplePlan.id).order_by(col(SamplePlan.id))),
    "item_id": lambda e: _first(e, select(SampleItem.id).order_by(col(SampleItem.id))),
    "attachment_id": lambda e: _attachment_of_first_order(e, "静安寺街道"),
    "check_id": lambda e: _check_of_first_order(e, "静安寺街道"),
    "notice_id": lambda e: _first(e, select(HotlineNotice.id)),
    "mark_id": lambda e: 1,  # a 源头治理 mark (none in the demo: ending it is refused with a message, not an error)
}
# Parameters that name an order of 曹家渡街道, to prove a squad of 静安寺街道 cannot reach it.
FOREIGN: dict[str, Callable[[Engine], object]] = {
    "order_id": lambda e: _first(e, select(Order.id).where(Order.street == "曹家渡街道").order_by(col(Order.id))),
    "alert_id": lambda e: _first(
        e, select(Alert.id).join(Order, col(Order.id) == col(Alert.order_id)).where(Order.street == "曹家渡街道")
    ),
    "attachment_id": lambda e: _attachment_of_first_order(e, "曹家渡街道"),
    "check_id": lambda e: _check_of_first_order(e, "曹家渡街道"),
}


def routes(app) -> Iterator[tuple[str, str, list[str], set[str]]]:  # type: ignore[no-untyped-def]
    """(endpoint, rule, argument names, methods) of every route but the open ones."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN | PROBES or rule.endpoint.split(".")[0] in OPEN_BLUEPRINTS:
            continue
        yield rule.endpoint, rule.rule, sorted(rule.arguments), set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def build(rule: str, values: dict[str, object]) -> str:
    url = rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), url)
    assert "<" not in url, f"the walker cannot fill {rule}: add its parameter to PARAMS"
    return url


def fill(
    engine: Engine, args: list[str], source: dict[str, Callable[[Engine], object]] | None = None
) -> dict[str, object]:
    missing = [a for a in args if a not in PARAMS]
    assert not missing, f"add {missing} to PARAMS in tests/web/test_access.py"
    return {a: (source or PARAMS).get(a, PARAMS[a])(engine) for a in args}


@pytest.fixture
def world(app, people, runner, tmp_path, engine):  # type: ignore[no-untyped-def]
    """The demo orders with alerts, one uploaded export waiting for its commit, a photo on each street's first order."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
        assert result.exit_code == 0, result.output
        admin = app.test_client()
        sign_in(admin, PEOPLE["admin"])
        sample = SAMPLES / "城管诉件导出_2026-11-20.csv"
        upload = {"file": (BytesIO(sample.read_bytes()), sample.name), "csrf_token": csrf_token(admin)}
        assert admin.post("/imports/uploads", data=upload, content_type="multipart/form-data").status_code in (302, 303)
        supervisor = app.test_client()
        sign_in(supervisor, PEOPLE["supervisor"])
        plan = {
            "closed_from": "2026-10-01",
            "closed_to": "2026-11-30",
            "stratify_by": "none",
            "allocation": "proportional",
        }
        plan |= {"minimum_per_stratum": "0", "size_kind": "fixed", "size_fixed": "5", "risk_unsatisfied": "1"}
        plan |= {"seed": "walker", "csrf_token": csrf_token(supervisor)}
        assert supervisor.post("/spot-checks/plans", data=plan).status_code == 302
        for street in ("静安寺街道", "曹家渡街道"):  # a photo on the first order of each street
            order_id = PARAMS["order_id"](engine) if street == "静安寺街道" else FOREIGN["order_id"](engine)
            photo = BytesIO()
            Image.new("RGB", (40, 30), "green").save(photo, format="JPEG")
            photo.seek(0)
            data = {"files": (photo, "现场.jpg"), "purpose": "other", "csrf_token": csrf_token(admin)}
            sent = admin.post(f"/orders/{order_id}/attachments", data=data, content_type="multipart/form-data")
            assert sent.status_code == 302
        with Session(engine) as session:  # a 热线通报 naming each street's first order
            firsts = [
                session.exec(select(Order.order_no).where(Order.street == s).order_by(col(Order.id))).first()
                for s in ("静安寺街道", "曹家渡街道")
            ]
        lines = "".join(f"TB-WALK,{number},不满意,2026-11-25\n" for number in firsts)
        notice = BytesIO(("通报编号,工单编号,通报类型,通报日期\n" + lines).encode())
        data = {"file": (notice, "通报.csv"), "csrf_token": csrf_token(admin)}
        assert admin.post("/imports/notices/upload", data=data, content_type="multipart/form-data").status_code == 200
        yield app


def test_the_walker_sees_every_blueprint(app) -> None:  # type: ignore[no-untyped-def]
    prefixes = {rule for _, rule, _, _ in routes(app)}
    for needed in ("/", "/orders/<int:order_id>", "/logout"):
        assert needed in prefixes


def test_the_open_endpoints_are_the_known_ones(app) -> None:  # type: ignore[no-untyped-def]
    from tracker.web.auth import OPEN_BLUEPRINTS as APP_OPEN_BLUEPRINTS
    from tracker.web.auth import OPEN_ENDPOINTS

    assert set(OPEN_ENDPOINTS) == OPEN | PROBES  # a new open endpoint must be declared here on purpose
    assert set(APP_OPEN_BLUEPRINTS) == OPEN_BLUEPRINTS


def test_signed_out_every_route_leads_to_sign_in(world, engine) -> None:  # type: ignore[no-untyped-def]
    client = world.test_client()
    for endpoint, rule, args, methods in routes(world):
        url = build(rule, fill(engine, args))
        for method in methods:
            response = client.open(url, method=method)
            if rule.startswith("/api/"):
                assert response.status_code == 401, (endpoint, method)
            elif method == "GET":
                assert response.status_code == 302 and "/login" in response.headers["Location"], (endpoint, method)
            else:  # CSRF is checked before anything else on a POST
                assert response.status_code in (302, 400), (endpoint, method, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_as_every_role(world, engine, role) -> None:  # type: ignore[no-untyped-def]
    client = world.test_client()
    sign_in(client, PEOPLE[role])
    with time_machine.travel(NOW, tick=False):
        for endpoint, rule, args, methods in routes(world):
            url = build(rule, fill(engine, args))
            admin_only = rule.startswith(ADMIN_ONLY)
            if "GET" not in methods:  # a GET never reaches a view that writes
                assert client.get(url).status_code == 405, (endpoint, url)
                no_token = client.post(url, data={})
                assert no_token.status_code == 400, (endpoint, url, no_token.status_code)
                continue
            response = client.get(url)
            if (admin_only and role != "admin") or (rule.startswith(SUPERVISOR_ONLY) and role == "squad"):
                assert response.status_code == 403, (role, endpoint, url, response.status_code)
                continue
            assert response.status_code in (200, 302), (role, endpoint, url, response.status_code)
            if response.mimetype in ("text/html", "application/json"):
                body = response.get_data(as_text=True)
                assert not PHONE.search(body), (role, endpoint, "unmasked phone number")
                assert response.headers["Cache-Control"] == "no-store"
                assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_a_squad_never_sees_another_streets_orders_anywhere(world, engine) -> None:  # type: ignore[no-untyped-def]
    """Every GET page a squad can open (lists, counts, detail, alerts, JSON) holds only its street's order numbers."""
    with Session(engine) as session:
        foreign = set(session.exec(select(Order.order_no).where(Order.street != "静安寺街道")).all())
        own = set(session.exec(select(Order.order_no).where(Order.street == "静安寺街道")).all())
    assert foreign and own
    client = world.test_client()
    sign_in(client, PEOPLE["squad"])
    seen_own = False
    with time_machine.travel(NOW, tick=False):
        for endpoint, rule, args, methods in routes(world):
            if "GET" not in methods or rule.startswith(ADMIN_ONLY):
                continue
            for query in ("", "?street=曹家渡街道", "?page_size=200"):
                response = client.get(build(rule, fill(engine, args)) + query)
                if response.status_code != 200 or response.mimetype not in ("text/html", "application/json"):
                    continue
                numbers = set(re.findall(r"[A-Z0-9][A-Za-z0-9-]{7,}", response.get_data(as_text=True)))
                assert not numbers & foreign, (endpoint, query, sorted(numbers & foreign)[:3])
                seen_own = seen_own or bool(numbers & own)
    assert seen_own


def test_out_of_scope_ids_answer_exactly_like_missing_ones(world, engine) -> None:  # type: ignore[no-untyped-def]
    client = world.test_client()
    sign_in(client, PEOPLE["squad"])
    token = csrf_token(client)
    checked = 0
    with time_machine.travel(NOW, tick=False):
        for endpoint, rule, args, methods in routes(world):
            scoped_args = [a for a in args if a in FOREIGN]
            if not scoped_args or rule.startswith(ADMIN_ONLY):
                continue
            foreign = fill(engine, args, FOREIGN)
            missing = {**foreign, **{a: 999999 for a in scoped_args}}
            for method in methods:
                data = {"csrf_token": token, "contact_result": "已联", "reason": "查看"}
                hidden = client.open(build(rule, foreign), method=method, data=data)
                absent = client.open(build(rule, missing), method=method, data=data)
                assert hidden.status_code == absent.status_code == 404, (endpoint, method, hidden.status_code)
                assert hidden.get_data() == absent.get_data(), (endpoint, method)
                checked += 1
    assert checked >= 4
