"""Import pages: upload, dry run that writes nothing, commit, batch history, rejected rows as XLSX; admins only."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers import local
from tests.helpers_import import JINGAN_STREETS, count, list_streets
from tests.web.conftest import PEOPLE, csrf_token, post, sign_in
from tracker.models import ImportBatch, ImportIssue, ImportUpload, Order

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_orders" / "12345工单导出_2026-11-20.xlsx"
NOT_A_WORKBOOK = ROOT / "sample_orders" / "dirty" / "broken" / "不是表格.xlsx"
HEADER = "工单编号,派单时间,诉求类型,问题分类,地址,所属街镇,工单状态,签收时间,备注"
EVIL = (
    HEADER + "\nE1,2026-11-16 09:00,求助,渣土,某路1号,北站街道,待签收,,\n"
    "=cmd|' /C calc'!A0,2026-13-16 09:00,求助,渣土,某路2号,北站街道,待签收,,\n"
).encode()
NOW = local("2026-11-26 10:00")


@pytest.fixture(autouse=True)
def uploads_dir(app, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Uploads go to a folder of the test's own."""
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


@pytest.fixture(autouse=True)
def street_list(people, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """The streets these exports name are in the street list, beside the people's (an unknown one is refused)."""
    list_streets(engine, *JINGAN_STREETS)


def upload(client, content: bytes, name: str, profile: str = "12345"):  # type: ignore[no-untyped-def]
    """Post the upload form as the browser would (multipart, with the CSRF token)."""
    data = {"file": (BytesIO(content), name), "profile": profile, "csrf_token": csrf_token(client)}
    return client.post("/imports/uploads", data=data, content_type="multipart/form-data")


def upload_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)
    match = re.search(r"/imports/uploads/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def uploads_of(engine: Engine) -> list[ImportUpload]:
    with Session(engine) as session:
        return list(session.exec(select(ImportUpload).order_by(ImportUpload.id)))  # type: ignore[arg-type]


def tally(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return count(session, model)


@time_machine.travel(NOW, tick=False)
def test_dry_run_writes_nothing_then_commit_imports_and_lists_the_batch(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name))
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    created = int(re.search(r"将新建 (\d+) 件", page).group(1))  # type: ignore[union-attr]
    assert created > 100 and "读取 " in page and SAMPLE.name in page and "确认导入" in page
    assert tally(engine, Order) == 0 and tally(engine, ImportBatch) == 0 and tally(engine, ImportIssue) == 0
    stored = list(uploads_dir.iterdir())
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{32}\.xlsx", stored[0].name)
    assert stored[0].read_bytes() == SAMPLE.read_bytes()
    (record,) = uploads_of(engine)
    assert (record.status, record.original_name, record.stored_name) == ("checked", SAMPLE.name, stored[0].name)
    assert record.dry_run["created"] == created and record.dry_run["batch"] == ""
    index = client.get("/imports/").get_data(as_text=True)
    assert f"/imports/uploads/{number}" in index and "没有待确认的上传" not in index

    response = post(client, f"/imports/uploads/{number}/commit")
    assert response.status_code == 303
    batch = response.headers["Location"].rsplit("/", 1)[-1]
    assert tally(engine, Order) == created
    with Session(engine) as session:
        stored_batch = session.exec(select(ImportBatch)).one()
        assert (stored_batch.batch, stored_batch.file_name, stored_batch.created) == (batch, SAMPLE.name, created)
        assert stored_batch.actor_name.endswith("测试admin")
    (record,) = uploads_of(engine)
    assert (record.status, record.batch) == ("committed", batch)
    page = client.get(f"/imports/batches/{batch}").get_data(as_text=True)
    assert f"新建 {created} 件" in page and SAMPLE.name in page
    index = client.get("/imports/").get_data(as_text=True)
    assert f"/imports/batches/{batch}" in index and "没有待确认的上传" in index

    again = post(client, f"/imports/uploads/{number}/commit")
    assert again.status_code == 422 and "不能重复导入" in again.get_data(as_text=True)
    assert tally(engine, Order) == created and tally(engine, ImportBatch) == 1


@time_machine.travel(NOW, tick=False)
def test_the_same_file_uploaded_again_is_noted_and_cannot_be_committed(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    first = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name))
    assert post(client, f"/imports/uploads/{first}/commit").status_code == 303
    second = upload_id(upload(client, SAMPLE.read_bytes(), "再次上传.xlsx"))
    page = client.get(f"/imports/uploads/{second}").get_data(as_text=True)
    assert "导入过" in page and 'id="already-imported"' in page and 'id="commit-form"' not in page
    response = post(client, f"/imports/uploads/{second}/commit")
    assert response.status_code == 422 and "无需再次导入" in response.get_data(as_text=True)
    assert tally(engine, ImportBatch) == 1


@time_machine.travel(NOW, tick=False)
def test_rejected_rows_download_is_formula_safe(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, EVIL, "=evil.csv"))
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    assert "将新建 1 件" in page and "拒绝 1 行" in page and "2026-13-16 09:00" in page
    batch = post(client, f"/imports/uploads/{number}/commit").headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/imports/batches/{batch}").get_data(as_text=True)
    assert "不是可识别的日期时间" in page and "rejected.xlsx" in page
    response = client.get(f"/imports/batches/{batch}/rejected.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(BytesIO(response.data))
    rows = [[c.value for c in row] for row in book["明细"].iter_rows(min_row=2)]
    assert rows == [
        ["'=evil.csv", "拒绝", 3, "'=cmd|' /C calc'!A0", "派单时间", "2026-13-16 09:00", rows[0][6]],
    ]
    assert "日期" in rows[0][6]
    summary = {row[0].value: row[1].value for row in book["汇总"].iter_rows()}
    assert summary["文件"] == "'=evil.csv" and summary["新建"] == 1 and summary["拒绝"] == 1


@time_machine.travel(NOW, tick=False)
def test_a_clean_batch_has_an_empty_download(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(
        upload(client, (HEADER + "\nE1,2026-11-16 09:00,求助,渣土,某路1号,北站街道,待签收,,\n").encode(), "a.csv")
    )
    batch = post(client, f"/imports/uploads/{number}/commit").headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/imports/batches/{batch}").get_data(as_text=True)
    assert "没有被拒绝或冲突的行" in page and "rejected-download" not in page
    book = load_workbook(BytesIO(client.get(f"/imports/batches/{batch}/rejected.xlsx").data))
    assert book["明细"].max_row == 1


def test_a_file_of_another_type_is_refused_and_nothing_stored(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    response = upload(as_role("admin"), b"just text", "说明.txt")
    assert response.status_code == 422
    assert "文件「说明.txt」的类型不受支持" in response.get_data(as_text=True)
    assert not uploads_dir.exists() or not list(uploads_dir.iterdir())
    assert uploads_of(engine) == []


def test_no_file_chosen_is_refused(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    response = client.post(
        "/imports/uploads", data={"profile": "", "csrf_token": csrf_token(client)}, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "请选择要上传的导出文件" in response.get_data(as_text=True)
    assert uploads_of(engine) == []


def test_an_unknown_profile_is_refused_by_name(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    response = upload(as_role("admin"), SAMPLE.read_bytes(), SAMPLE.name, profile="nosuch")
    assert response.status_code == 422 and "导入配置「nosuch」不存在" in response.get_data(as_text=True)
    assert uploads_of(engine) == [] and not (uploads_dir.exists() and list(uploads_dir.iterdir()))


@time_machine.travel(NOW, tick=False)
def test_a_broken_file_fails_with_its_own_name_and_is_not_kept(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, NOT_A_WORKBOOK.read_bytes(), "<img src=x onerror=alert(1)>坏.xlsx"))
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    assert "整个文件无法导入" in page and "文件「&lt;img src=x onerror=alert(1)&gt;坏.xlsx」" in page
    assert "<img" not in page
    (record,) = uploads_of(engine)
    assert record.status == "failed" and record.stored_name not in page and "确认导入" not in page
    assert list(uploads_dir.iterdir()) == []
    assert tally(engine, Order) == 0 and tally(engine, ImportBatch) == 0
    response = post(client, f"/imports/uploads/{number}/commit")
    assert response.status_code == 422 and "未通过试导入检查" in response.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_shared_headers_without_a_profile_ask_for_one(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name, profile=""))
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    assert "无法判断来源" in page and "请在下方选择导入配置，对同一文件重新试导入" in page and "--profile" not in page


@time_machine.travel(NOW, tick=False)
def test_path_parts_of_the_name_are_dropped(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    number = upload_id(upload(as_role("admin"), EVIL, "..\\..\\etc/每日.csv"))
    (record,) = uploads_of(engine)
    assert record.id == number and record.original_name == "每日.csv"
    assert [p.name for p in uploads_dir.iterdir()] == [record.stored_name]


@time_machine.travel(NOW, tick=False)
def test_discard_deletes_the_file_and_then_commit_is_refused(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, EVIL, "a.csv"))
    response = post(client, f"/imports/uploads/{number}/discard")
    assert response.status_code == 303
    assert list(uploads_dir.iterdir()) == [] and uploads_of(engine)[0].status == "discarded"
    response = post(client, f"/imports/uploads/{number}/commit")
    assert response.status_code == 422 and "已放弃" in response.get_data(as_text=True)
    assert post(client, f"/imports/uploads/{number}/discard").status_code == 422
    assert tally(engine, Order) == 0


@time_machine.travel(NOW, tick=False)
def test_a_file_changed_on_disk_is_not_committed(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, EVIL, "a.csv"))
    (stored,) = uploads_dir.iterdir()
    stored.write_bytes(EVIL.replace(b"E1,", b"E9,"))
    response = post(client, f"/imports/uploads/{number}/commit")
    assert response.status_code == 422 and "已被改动或丢失" in response.get_data(as_text=True)
    stored.unlink()
    response = post(client, f"/imports/uploads/{number}/commit")
    assert response.status_code == 422 and "已被改动或丢失" in response.get_data(as_text=True)
    assert tally(engine, Order) == 0 and uploads_of(engine)[0].status == "checked"


def test_a_too_large_upload_gets_a_chinese_413(app, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = upload(client, b"x" * 8192, "big.csv")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "文件过大" in page and "超过大小上限 4 KB" in page
    assert uploads_of(engine) == []


def test_missing_csrf_is_refused(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    data = {"file": (BytesIO(EVIL), "a.csv"), "profile": "12345"}
    response = client.post("/imports/uploads", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert uploads_of(engine) == []


@time_machine.travel(NOW, tick=False)
def test_forged_ids_are_404(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    assert client.get("/imports/uploads/9999").status_code == 404
    assert post(client, "/imports/uploads/9999/commit").status_code == 404
    assert post(client, "/imports/uploads/9999/discard").status_code == 404
    assert client.get("/imports/batches/20261126-nope").status_code == 404
    assert client.get("/imports/batches/20261126-nope/rejected.xlsx").status_code == 404


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ["supervisor", "squad"])
def test_other_roles_get_403_everywhere(as_role, role, app, engine) -> None:  # type: ignore[no-untyped-def]
    admin = app.test_client()
    sign_in(admin, PEOPLE["admin"])
    number = upload_id(upload(admin, EVIL, "a.csv"))
    batch = post(admin, f"/imports/uploads/{number}/commit").headers["Location"].rsplit("/", 1)[-1]
    other = upload_id(upload(admin, EVIL.replace(b"E1,", b"E2,"), "b.csv"))
    client = as_role(role)
    assert "/imports/" not in client.get("/").get_data(as_text=True)  # no nav link
    for url in (
        "/imports/",
        f"/imports/uploads/{other}",
        f"/imports/batches/{batch}",
        f"/imports/batches/{batch}/rejected.xlsx",
    ):
        assert client.get(url).status_code == 403, url
    assert upload(client, EVIL, "c.csv").status_code == 403
    for url in (
        f"/imports/uploads/{other}/commit",
        f"/imports/uploads/{other}/discard",
        "/imports/uploads/9999/commit",
    ):
        assert post(client, url).status_code == 403, url
    assert [u.status for u in uploads_of(engine)] == ["committed", "checked"]
    assert "/imports/" in admin.get("/").get_data(as_text=True)


# --- the import page (issue 15 item 4): the profile choice, stale uploads, batches named for people ----------


@time_machine.travel(NOW, tick=False)
def test_a_refused_detection_keeps_the_file_and_offers_the_profile_for_the_same_upload(
    as_role, engine, uploads_dir
) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name, profile=""))
    (record,) = uploads_of(engine)
    assert record.status == "failed" and record.dry_run["choose_profile"] == ["12345", "城管诉件"]
    assert [p.name for p in uploads_dir.iterdir()] == [record.stored_name]  # kept for the choice
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    assert "无法判断来源" in page and 'id="profile-form"' in page and "无需再次上传" in page
    assert "12345（12345 市民服务热线工单导出） · 表头相符" in page and 'id="commit-form"' not in page
    assert "可选择导入配置重试" in client.get("/imports/").get_data(as_text=True)

    # bad choices: nothing changes
    for chosen, message in (("", "请选择导入配置"), ("nosuch", "导入配置「nosuch」不存在")):
        refused = post(client, f"/imports/uploads/{number}/profile", {"profile": chosen})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
        assert uploads_of(engine)[0].status == "failed"

    chosen = post(client, f"/imports/uploads/{number}/profile", {"profile": "12345"})
    assert chosen.status_code == 303 and chosen.headers["Location"].endswith(f"/imports/uploads/{number}")
    (record,) = uploads_of(engine)
    assert (record.status, record.profile) == ("checked", "12345"), record.dry_run
    assert record.dry_run["created"] > 100
    assert tally(engine, Order) == 0  # still a dry run
    page = client.get(f"/imports/uploads/{number}").get_data(as_text=True)
    assert 'id="commit-form"' in page and "将新建" in page
    assert post(client, f"/imports/uploads/{number}/commit").status_code == 303
    assert tally(engine, Order) == record.dry_run["created"]
    late = post(client, f"/imports/uploads/{number}/profile", {"profile": "城管诉件"})
    assert late.status_code == 422 and "已导入" in late.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_a_stored_file_changed_since_upload_is_not_dry_run_again(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name, profile=""))
    (record,) = uploads_of(engine)
    (uploads_dir / record.stored_name).write_bytes(b"tampered")
    refused = post(client, f"/imports/uploads/{number}/profile", {"profile": "12345"})
    assert refused.status_code == 422 and "已被改动或丢失" in refused.get_data(as_text=True)
    assert uploads_of(engine)[0].status == "failed"


@time_machine.travel(NOW, tick=False)
def test_the_form_starts_with_the_clerks_last_profile_else_the_configured_default(as_role, app, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    selected = re.compile(r'<option value="([^"]*)" selected>')
    assert selected.findall(client.get("/imports/").get_data(as_text=True)) == []  # detection, no default

    app.config["DEFAULT_PROFILE"] = "城管诉件"
    page = client.get("/imports/").get_data(as_text=True)
    assert selected.findall(page) == ["城管诉件"] and "系统设置的默认导入配置" in page

    app.config["DEFAULT_PROFILE"] = "12345x"
    page = client.get("/imports/").get_data(as_text=True)
    assert selected.findall(page) == [] and "TRACKER_DEFAULT_PROFILE=「12345x」不是已有的导入配置" in page

    app.config["DEFAULT_PROFILE"] = "城管诉件"
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name, profile="12345"))
    assert post(client, f"/imports/uploads/{number}/commit").status_code == 303
    page = client.get("/imports/").get_data(as_text=True)
    assert selected.findall(page) == ["12345"] and "您上次导入时使用的配置" in page


def test_uploads_left_unconfirmed_for_a_day_are_discarded_with_their_files(as_role, engine, uploads_dir) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        client = as_role("admin")
        old = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name))
        ambiguous = upload_id(upload(client, SAMPLE.read_bytes(), "再传一次.xlsx", profile=""))
    kept = {u.id: u.stored_name for u in uploads_of(engine)}
    with time_machine.travel(NOW + timedelta(hours=23), tick=False):  # not yet a day: nothing is discarded
        client = as_role("admin")
        upload_id(upload(client, EVIL, "每日.csv"))
        assert {u.id: u.status for u in uploads_of(engine)}[old] == "checked"
    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        client = as_role("admin")
        upload_id(upload(client, EVIL, "每日2.csv"))
        statuses = {u.id: u.status for u in uploads_of(engine)}
        assert statuses[old] == statuses[ambiguous] == "discarded"
        assert not (uploads_dir / kept[old]).exists() and not (uploads_dir / kept[ambiguous]).exists()
        page = client.get(f"/imports/uploads/{old}").get_data(as_text=True)
        assert "因长时间未确认而自动放弃" in page and 'id="commit-form"' not in page
        refused = post(client, f"/imports/uploads/{old}/commit")
        assert refused.status_code == 422 and "已放弃" in refused.get_data(as_text=True)
        index = client.get("/imports/").get_data(as_text=True)
        assert f'/imports/uploads/{old}"' not in index and "超过 24 小时未确认的上传会被自动放弃" in index


@time_machine.travel(NOW, tick=False)
def test_batches_are_named_for_people_on_the_pages_and_in_the_audit_trail(as_role, engine) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    number = upload_id(upload(client, SAMPLE.read_bytes(), SAMPLE.name))
    batch = post(client, f"/imports/uploads/{number}/commit").headers["Location"].rsplit("/", 1)[-1]
    name = f"2026-11-26 10:00 · {SAMPLE.name} · 管理员 测试admin"
    assert name in client.get("/imports/").get_data(as_text=True)
    page = client.get(f"/imports/batches/{batch}").get_data(as_text=True)
    assert f"<h1>导入批次：{name}</h1>" in page and f"批次编号 {batch}" in page
    with Session(engine) as session:
        order_id = session.exec(select(Order.id).where(Order.street == "静安寺街道")).first()
    trail = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f"导入：{name}" in trail and f"导入批次 {batch}" not in trail
