"""Limits that are really applied: request bodies (from the production config, not a test override) and
workbooks that unpack to far more than they weigh."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from openpyxl import Workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

from tests.conftest import seed
from tests.helpers import local
from tests.helpers_import import run_import
from tests.web.conftest import PEOPLE, csrf_token, sign_in
from tracker import create_app
from tracker.domain.roles import Role
from tracker.domain.sizes import format_size
from tracker.models import ImportUpload
from tracker.services.accounts.users import create_user
from tracker.services.imports import importer, load_profile, reader
from tracker.services.imports.reader import ExportFileError, Limits, open_export
from tracker.web.security import ATTACHMENT_ENDPOINTS

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
        if endpoint in ATTACHMENT_ENDPOINTS:  # photos and PDFs: the attachment limit, never above the upload's
            assert "提交的附件合计超过大小上限 64 KB" in response.get_data(as_text=True), endpoint
            continue
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


# ---------------------------------------------------------------------------- workbooks below the bomb threshold


def workbook_with_sheet(path: Path, sheet: Iterable[bytes]) -> Path:
    """A real workbook (made by openpyxl) whose first sheet's XML is replaced by ``sheet``, streamed in."""
    plain = path.with_suffix(".plain.xlsx")
    book = Workbook()
    book.active.append(["工单编号", "派单时间", "诉求类型"])  # type: ignore[union-attr]
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for piece in sheet:
                member.write(piece)
    return path


SHEET_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
SHEET_TAIL = b"</sheetData></worksheet>"
HEADER_ROW = (
    "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for column, name in zip("ABC", ("工单编号", "派单时间", "诉求类型"), strict=True)
    )
    .join(('<row r="1">', "</row>"))
    .encode()
)


def empty_rows(first: int, count: int) -> bytes:
    """Rows of empty cells (what a bomb is made of: it compresses about 1000:1)."""
    return b"".join(
        b'<row r="%d"><c r="A%d"/><c r="B%d"/><c r="C%d"/></row>' % (n, n, n, n) for n in range(first, first + count)
    )


@pytest.fixture
def never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the workbook reaches the spreadsheet reader: a bomb must be refused before."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workbook was read")

    monkeypatch.setattr(reader.CalamineWorkbook, "from_path", refuse)


def test_a_sheet_over_the_part_limit_is_refused_with_exact_sizes(tmp_path: Path, never_read: None) -> None:
    block = b'<row r="2"><c r="A2"/><c r="B2"/><c r="C2"/></row>' * 20000  # about 1 MB
    size = 200 * 1024 * 1024 + 123
    pieces = [SHEET_HEAD, HEADER_ROW]
    left = size - len(SHEET_HEAD) - len(HEADER_ROW) - len(SHEET_TAIL)
    while left > 0:
        pieces.append(block[:left])
        left -= len(pieces[-1])
    pieces.append(SHEET_TAIL)
    bomb = workbook_with_sheet(tmp_path / "bomb.xlsx", iter(pieces))
    assert bomb.stat().st_size < 2 * 1024 * 1024  # under 2 MB on disk, 200 MB unpacked
    with pytest.raises(ExportFileError) as refused:
        open_export(bomb)  # the default limits
    message = refused.value.message
    assert "「xl/worksheets/sheet1.xml」解压后 209,715,323 字节（约 200.00 MB），超过单个工作表上限 200 MB" in message
    assert "未读取其内容" in message


def test_all_parts_together_are_limited_with_exact_sizes(tmp_path: Path, never_read: None) -> None:
    book = workbook_with_sheet(tmp_path / "book.xlsx", [SHEET_HEAD, HEADER_ROW, empty_rows(2, 30), SHEET_TAIL])
    with zipfile.ZipFile(book) as archive:
        total = sum(info.file_size for info in archive.infolist())
    with pytest.raises(ExportFileError) as refused:
        open_export(book, limits=Limits(max_unzipped_bytes=total - 1))
    assert f"解压后共 {format_size(total)}，超过上限 {format_size(total - 1)}" in refused.value.message
    assert format_size(total) != format_size(total - 1)


def test_rows_are_counted_while_the_sheet_unpacks(tmp_path: Path, never_read: None) -> None:
    book = workbook_with_sheet(tmp_path / "rows.xlsx", [SHEET_HEAD, HEADER_ROW, empty_rows(2, 5000), SHEET_TAIL])
    with pytest.raises(ExportFileError, match=r"至少有 [0-9,]+ 行，超过上限 100 行"):
        open_export(book, limits=Limits(max_rows=100))


def test_one_far_cell_cannot_make_a_huge_grid(tmp_path: Path, never_read: None) -> None:
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    book = workbook_with_sheet(tmp_path / "far.xlsx", [SHEET_HEAD, HEADER_ROW, far, SHEET_TAIL])
    assert book.stat().st_size < 20 * 1024
    with pytest.raises(
        ExportFileError, match="1,048,576 行 × 16,384 列 = 17,179,869,184 个单元格，超过上限 10,000,000 个"
    ):
        open_export(book)


def test_a_workbook_within_the_limits_is_read(tmp_path: Path) -> None:
    rows = b'<row r="2"><c r="A2" t="inlineStr"><is><t>SH1</t></is></c><c r="B2" t="inlineStr"><is><t>2026-11-16 09:00</t></is></c></row>'
    book = workbook_with_sheet(tmp_path / "fine.xlsx", [SHEET_HEAD, HEADER_ROW, rows, empty_rows(3, 50), SHEET_TAIL])
    export = open_export(book, profile=load_profile("12345"), limits=Limits(max_rows=100, max_cells=1000))
    assert [(row.number, row.fields["工单编号"]) for row in export.rows()] == [(2, "SH1")]


def test_an_over_long_cell_rejects_its_row_only(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    header = "工单编号,派单时间,诉求类型,问题分类,诉求内容,所属街镇,工单状态"
    long_text = "很" * 40_000
    lines = [
        header,
        f"SH1,2026-11-16 09:00,求助,渣土,{long_text},北站街道,待签收",
        "SH2,2026-11-16 09:00,求助,渣土,短,北站街道,待签收",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_import(session, path)
    assert report.created == 1
    (error,) = report.rejected
    assert (error.row, error.column) == (2, "诉求内容")
    assert "单元格长度 40,000 字，超过单元格上限 32,767 字" in error.reason and "共 40000 字" in error.value


def test_memory_is_released_after_a_refused_read(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[bool] = []
    monkeypatch.setattr(importer, "release_memory", lambda: released.append(True))
    far = b'<row r="1048576"><c r="XFD1048576"/></row>'
    book = workbook_with_sheet(tmp_path / "far.xlsx", [SHEET_HEAD, HEADER_ROW, far, SHEET_TAIL])
    with pytest.raises(ExportFileError):
        run_import(session, book)
    assert released == [True]
    assert not any(isinstance(value, list) and len(value) > 1000 for value in vars(reader).values())  # no module cache


def test_the_web_upload_of_a_bomb_is_refused_in_chinese(production_app: Flask, engine: Engine, tmp_path: Path) -> None:
    client = production_app.test_client()
    sign_in(client, PEOPLE["admin"])
    far = b'<row r="1048576"><c r="XFD1048576"/></row>'
    book = workbook_with_sheet(tmp_path / "far.xlsx", [SHEET_HEAD, HEADER_ROW, far, SHEET_TAIL]).read_bytes()
    data = {"file": (io.BytesIO(book), "far.xlsx"), "profile": "12345", "csrf_token": csrf_token(client)}
    response = client.post("/imports/uploads", data=data, content_type="multipart/form-data")
    assert response.status_code == 303  # the upload page says why the file cannot be imported (no 500)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "17,179,869,184 个单元格，超过上限 10,000,000 个" in page
