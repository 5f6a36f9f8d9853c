"""Backup and restore as a round trip: orders, events, samples, uploads and attachments identical after restore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.conftest import PG_URL
from tracker import create_app
from tracker.db import get_engine, make_engine
from tracker.domain.deadlines import RuleTable
from tracker.domain.roles import Role
from tracker.domain.sampling import SamplingPlan, SizeKind, SizeRule
from tracker.models import Order, utcnow
from tracker.services.accounts import Actor, Viewer
from tracker.services.imports import Limits, uploads
from tracker.services.orders import AttachmentLimits, Context, Upload, add_attachments, load_calendar
from tracker.services.spot_checks import PlanInput, Population, draw_plan, load_checklist

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "work_order",
    "order_deadline",
    "order_event",
    "alert",
    "sample_plan",
    "sample_item",
    "import_upload",
    "order_attachment",
)


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables that matter, in a stable order."""
    with engine.connect() as conn:
        return {table: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {table}"))), key=repr) for table in TABLES}


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def deployed(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database migrated by init-db with the demo data, a drawn spot-check plan and an upload on disk."""
    url = PG_URL or f"sqlite:///{tmp_path / 'live.db'}"
    if PG_URL:
        with make_engine(url).begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    folder = tmp_path / "instance" / "uploads"
    config = {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t", "UPLOAD_DIR": str(folder)}
    attachments = tmp_path / "instance" / "attachments"
    app = create_app({**config, "INBOX_DIR": str(tmp_path / "inbox"), "ATTACHMENT_DIR": str(attachments)})
    runner = app.test_cli_runner()
    for args in (["init-db"], ["demo-load", "--now", "2026-11-26T10:00"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context(), Session(get_engine()) as session:
        data = PlanInput(
            "备份测试",
            Population(closed_from=date(2025, 1, 1), closed_to=date(2026, 12, 31)),
            SamplingPlan(size=SizeRule(SizeKind.FIXED, 5)),
            "backup-seed",
        )
        viewer = Viewer(1, "duchao", "督察", Role.SUPERVISOR, None)
        draw_plan(
            session, viewer=viewer, actor=Actor.cli("测试"), now=utcnow(), data=data, checklist=load_checklist(None)
        )
        session.commit()  # receive_upload ends the caller's transaction (its dry run plans first on SQLite)
        sample = ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv"
        settings = uploads.ImportSettings(
            actor=Actor.cli("测试"), now=utcnow(), limits=Limits(), repeat_window=timedelta(days=30)
        )
        uploads.receive_upload(
            session,
            stream=io.BytesIO(sample.read_bytes()),
            original_name=sample.name,
            profile="城管诉件",
            folder=folder,
            settings=settings,
        )
        order = session.exec(select(Order).order_by(col(Order.id))).first()
        assert order is not None
        photo = io.BytesIO()
        Image.new("RGB", (64, 48), "red").save(photo, format="JPEG")
        photo.seek(0)
        ctx = Context(Actor.cli("测试"), utcnow(), load_calendar(session), RuleTable())
        add_attachments(
            session,
            order=order,
            uploads=[Upload("现场.jpg", photo)],
            purpose="other",
            folder=attachments,
            limits=AttachmentLimits(),
            ctx=ctx,
        )
        session.commit()
    yield app, folder, tmp_path
    get_engine(app).dispose()


@pytest.mark.parametrize("python", ["3.11.4+", "3.11.2"])
def test_backup_then_restore_gives_back_the_same_rows_and_files(deployed, python, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Also on Debian 12's Python 3.11.2, whose tarfile has no ``filter`` (found following the README)."""
    if python == "3.11.2":
        monkeypatch.delattr(tarfile, "data_filter")
    app, folder, tmp_path = deployed
    runner = app.test_cli_runner()
    with app.app_context():
        engine = get_engine()
        before, files_before = snapshot(engine), folder_digest(folder)
        photos_before = folder_digest(tmp_path / "instance" / "attachments")
    assert len(photos_before) == 2, "the photo and its thumbnail"
    assert all(before[t] for t in ("work_order", "order_event", "sample_item", "import_upload")), "nothing to back up"
    assert files_before

    result = runner.invoke(args=["backup", "create", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    assert "备份完成" in result.output
    (archive,) = (tmp_path / "backups").glob("tracker-backup-*.tar.gz")
    assert archive.stat().st_mode & 0o077 == 0  # names and phone numbers inside: the service account's only

    with app.app_context():  # lose everything: the database and the upload folder
        engine = get_engine()
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        engine.dispose()
        if engine.dialect.name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{engine.url.database}{suffix}").unlink(missing_ok=True)
    for path in [*folder.rglob("*"), *(tmp_path / "instance" / "attachments").rglob("*")]:
        if path.is_file():
            path.unlink()

    result = runner.invoke(args=["backup", "restore", str(archive), "--yes"])
    assert result.exit_code == 0, result.output
    assert "恢复完成" in result.output
    with app.app_context():
        assert snapshot(get_engine()) == before
    assert folder_digest(folder) == files_before
    assert folder_digest(tmp_path / "instance" / "attachments") == photos_before


def rewrite_manifest(archive: Path, target: Path, **changes: object) -> Path:
    """A copy of ``archive`` whose manifest says something else."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "manifest.json" and data is not None:
                manifest = {**json.loads(data.read()), **changes}
                raw = json.dumps(manifest).encode()
                member.size = len(raw)
                dst.addfile(member, io.BytesIO(raw))
            else:
                dst.addfile(member, data)
    return target


def test_restore_refuses_a_newer_schema_a_damaged_file_and_another_database_kind(deployed) -> None:  # type: ignore[no-untyped-def]
    app, folder, tmp_path = deployed
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", "create", str(tmp_path / "b")]).exit_code == 0
    (archive,) = (tmp_path / "b").glob("*.tar.gz")
    with app.app_context():
        before = snapshot(get_engine())
        dialect = get_engine().dialect.name

    newer = rewrite_manifest(archive, tmp_path / "newer.tar.gz", schema_revision="ffff9999ffff")
    result = runner.invoke(args=["backup", "restore", str(newer), "--yes"])
    assert result.exit_code != 0 and "比本程序新" in result.output and "ffff9999ffff" in result.output

    other = "postgresql" if dialect == "sqlite" else "sqlite"
    result = runner.invoke(
        args=["backup", "restore", str(rewrite_manifest(archive, tmp_path / "o.tar.gz", dialect=other)), "--yes"]
    )
    assert result.exit_code != 0 and "不能跨数据库类型恢复" in result.output

    damaged = rewrite_manifest(archive, tmp_path / "d.tar.gz", files={"manifest-missing-file": "0" * 64})
    result = runner.invoke(args=["backup", "restore", str(damaged), "--yes"])
    assert result.exit_code != 0 and "备份文件已损坏" in result.output

    for python in ("3.11.4+", "3.11.2"):  # Debian 12's Python has no tarfile filter: checked by hand there
        with pytest.MonkeyPatch.context() as patch:
            if python == "3.11.2":
                patch.delattr(tarfile, "data_filter")
            for name, kind in (("../escaped.txt", tarfile.REGTYPE), ("files/uploads/link", tarfile.SYMTYPE)):
                unsafe = tmp_path / f"unsafe-{python}-{kind!r}.tar.gz"
                rewrite_manifest(archive, unsafe)
                with tarfile.open(unsafe, "r:gz") as src:
                    members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]  # type: ignore[union-attr]
                with tarfile.open(unsafe, "w:gz") as dst:
                    for member, data in members:
                        dst.addfile(member, io.BytesIO(data) if data is not None else None)
                    extra = tarfile.TarInfo(name)
                    extra.type = kind
                    extra.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
                    extra.size = 0
                    dst.addfile(extra, io.BytesIO(b""))
                result = runner.invoke(args=["backup", "restore", str(unsafe), "--yes"])
                assert result.exit_code != 0 and f"不安全的条目「{name}」" in result.output, (python, result.output)
                assert not (tmp_path / "escaped.txt").exists()

    not_a_backup = tmp_path / "x.tar.gz"
    not_a_backup.write_bytes(b"not a tarball")
    result = runner.invoke(args=["backup", "restore", str(not_a_backup), "--yes"])
    assert result.exit_code != 0 and "不是本系统的备份文件" in result.output

    with app.app_context():
        assert snapshot(get_engine()) == before  # every refusal left the database untouched
    assert not list(folder.parent.glob("uploads.before-restore-*"))


def test_pg_dump_reaches_the_database_over_the_local_socket_as_the_readme_configures_it() -> None:
    """deploy/tracker.env.example's URL (peer authentication over the socket) as pg_dump's connection string."""
    from tracker.services.operations.backup import _libpq

    line = next(
        line
        for line in (ROOT / "deploy" / "tracker.env.example").read_text(encoding="utf-8").splitlines()
        if line.startswith("TRACKER_DATABASE_URL=")
    )
    dsn, env = _libpq(make_engine(line.removeprefix("TRACKER_DATABASE_URL=")))
    assert unquote(dsn) == "postgresql://tracker@/tracker?host=/var/run/postgresql"  # libpq reads %2F too
    assert "PGPASSWORD" not in env or env["PGPASSWORD"] == os.environ.get("PGPASSWORD")
    dsn, env = _libpq(make_engine("postgresql+psycopg://tracker:s3cret@db.example:5432/tracker"))
    # a password goes to pg_dump in the environment, not on its command line where ps shows it
    assert dsn == "postgresql://tracker@db.example:5432/tracker" and env["PGPASSWORD"] == "s3cret"
