"""Limits that are really applied: request bodies (from the production config, not a test override) and
workbooks that unpack to far more than they weigh."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

from tests.conftest import seed
from tests.helpers import local
from tests.web.conftest import PEOPLE, csrf_token, sign_in
from tracker import create_app
from tracker.domain.roles import Role
from tracker.models import ImportUpload
from tracker.services.accounts.users import create_user

UPLOAD_LIMIT = 64 * 1024
REQUEST_LIMIT = 16 * 1024


class CountingStream(io.RawIOBase):
    """A request body produced piece by piece (a generator), counting how much of it the server read."""

    def __init__(self, total: int, piece: int = 4096) -> None:
        self.left = total
        self.piece = piece
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        size = min(len(buffer), self.piece, self.left)
        buffer[:size] = b"a" * size
        self.left -= size
        self.read_bytes += size
        return size


def post_stream(
    client: FlaskClient, url: str, body: CountingStream, content_type: str, length: int | None
) -> TestResponse:
    """POST ``body`` as the server hands it over: with a Content-Length, or de-chunked without one."""
    environ = EnvironBuilder(client.application, path=url, method="POST", content_type=content_type).get_environ()
    environ["wsgi.input"] = body
    if length is None:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True  # what a server that de-chunks the body says
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return client.open(Request(environ))


@pytest.fixture
def production_app(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Flask:
    """The app built as wsgi.py builds it: every setting from the environment, no test override."""
    with Session(engine) as session:
        seed(session)
        create_user(
            session,
            username=PEOPLE["admin"].username,
            display_name="测试管理员",
            role=Role.ADMIN,
            password=PEOPLE["admin"].password,
            now=local("2026-11-01 09:00"),
        )
        session.commit()
    monkeypatch.setenv("TRACKER_DATABASE_URL", database_url)
    monkeypatch.setenv("TRACKER_UPLOAD_MAX_BYTES", str(UPLOAD_LIMIT))
    monkeypatch.setenv("TRACKER_REQUEST_MAX_BYTES", str(REQUEST_LIMIT))
    app = create_app()
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return app


def test_the_production_config_applies_both_limits(production_app: Flask) -> None:
    assert production_app.config["MAX_CONTENT_LENGTH"] == UPLOAD_LIMIT
    assert production_app.config["REQUEST_MAX_BYTES"] == REQUEST_LIMIT


def test_the_default_limits_are_applied_too(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", database_url)
    monkeypatch.delenv("TRACKER_UPLOAD_MAX_BYTES", raising=False)
    monkeypatch.delenv("TRACKER_REQUEST_MAX_BYTES", raising=False)
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 100 * 1024 * 1024
    assert app.config["REQUEST_MAX_BYTES"] == 1024 * 1024


def _post_rules(app: Flask) -> Iterator[tuple[str, str]]:
    """Every POST route but the upload, with its placeholders filled."""
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or set()) and rule.endpoint != "imports.upload":
            url = re.sub(r"<int:[^>]+>", "1", rule.rule)
            yield rule.endpoint, re.sub(r"<[^>]+>", "x", url)


def test_a_large_body_to_any_route_but_the_upload_is_refused_before_it_is_read(production_app: Flask) -> None:
    client = production_app.test_client()
    routes = list(_post_rules(production_app))
    assert ("auth.login", "/login") in routes and len(routes) > 10
    for endpoint, url in routes:
        body = CountingStream(2 * 1024 * 1024)
        response = post_stream(client, url, body, "application/x-www-form-urlencoded", 2 * 1024 * 1024)
        assert response.status_code == 413, endpoint
        assert body.read_bytes == 0, endpoint
        assert "超过此页面的大小上限 16 KB" in response.get_data(as_text=True), endpoint


def test_a_chunked_body_without_length_is_cut_off_at_the_limit(production_app: Flask) -> None:
    client = production_app.test_client()
    body = CountingStream(8 * 1024 * 1024)
    response = post_stream(client, "/login", body, "application/x-www-form-urlencoded", None)
    assert response.status_code == 413
    assert "请求内容超过此页面的大小上限 16 KB" in response.get_data(as_text=True)
    assert body.read_bytes <= REQUEST_LIMIT + 64 * 1024  # read up to the limit (and a buffer), not 8 MB


def test_a_normal_sign_in_still_passes(production_app: Flask) -> None:
    client = production_app.test_client()
    sign_in(client, PEOPLE["admin"])


def test_the_api_answers_413_in_json(production_app: Flask) -> None:
    client = production_app.test_client()
    response = client.post("/api/v1/orders", data=b"x" * (REQUEST_LIMIT + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "请求内容超过此页面的大小上限 16 KB，未处理，也未保存任何内容。"}


def _upload(client: FlaskClient, content: bytes) -> TestResponse:
    data = {"file": (io.BytesIO(content), "a.csv"), "profile": "12345", "csrf_token": csrf_token(client)}
    return client.post("/imports/uploads", data=data, content_type="multipart/form-data")


def test_the_upload_route_takes_up_to_its_own_limit(production_app: Flask, engine: Engine) -> None:
    client = production_app.test_client()
    sign_in(client, PEOPLE["admin"])
    header = "工单编号,派单时间,诉求类型,问题分类,地址,所属街镇,工单状态\n"
    rows = "".join(f"SH{n:08d},2026-11-16 09:00,求助,渣土,某路{n}号,北站街道,待签收\n" for n in range(400))
    small_enough = (header + rows).encode()
    assert REQUEST_LIMIT < len(small_enough) < UPLOAD_LIMIT  # over the small limit, under the upload's
    response = _upload(client, small_enough)
    assert response.status_code == 303, response.get_data(as_text=True)
    response = _upload(client, b"x" * UPLOAD_LIMIT)
    assert response.status_code == 413
    assert "上传的内容超过大小上限 64 KB" in response.get_data(as_text=True)
    with Session(engine) as session:
        assert len(session.exec(select(ImportUpload)).all()) == 1


def test_a_chunked_upload_over_the_limit_is_refused(production_app: Flask, engine: Engine) -> None:
    client = production_app.test_client()
    sign_in(client, PEOPLE["admin"])
    token = csrf_token(client)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    ).encode()
    total = 4 * 1024 * 1024

    class Body(CountingStream):
        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
            if self.read_bytes == 0:
                buffer[: len(head)] = head
                self.read_bytes, self.left = len(head), self.left - len(head)
                return len(head)
            return super().readinto(buffer)

    body = Body(total)
    response = post_stream(client, "/imports/uploads", body, f"multipart/form-data; boundary={boundary}", None)
    assert response.status_code == 413
    assert body.read_bytes <= UPLOAD_LIMIT + 128 * 1024
    with Session(engine) as session:
        assert session.exec(select(ImportUpload)).all() == []
