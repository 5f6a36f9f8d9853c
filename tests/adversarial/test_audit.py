"""Finding 5: the audit trail, the phone-reveal log and the export log cannot be changed or wiped, and every
export is logged. Runs on SQLite and, with TRACKER_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from alembic import command as alembic_command
from openpyxl import load_workbook
from sqlalchemy import exc, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from tests.conftest import PG_URL
from tests.helpers import local
from tests.helpers_import import list_streets
from tests.web import conftest as web_fixtures
from tests.web.conftest import sign_in
from tracker.cli.common import alembic_config
from tracker.db import make_engine
from tracker.domain.roles import Role
from tracker.models import ExportLog, OrderEvent, PhoneReveal
from tracker.services.accounts import Viewer, create_user
from tracker.services.accounts.export_log import KIND_ORDERS, record_export

people = web_fixtures.people  # the web tests' users, as a fixture here too
AUDIT_TABLES = ("order_event", "phone_reveal", "export_log")
BEFORE_THIS_ROUND = "3f6a2d8e1c47"


def _fill(session: Session, new_order) -> None:  # type: ignore[no-untyped-def]
    """One row in each audit table."""
    order = new_order("2026-11-16 09:00")
    user = create_user(
        session,
        username="audit",
        display_name="审计",
        role=Role.SUPERVISOR,
        password="audit-pass-123",
        now=local("2026-11-16 09:00"),
    )
    session.add(
        PhoneReveal(
            user_id=user.id or 0,
            user_name="督察 审计",
            order_id=order.id or 0,
            reason="回访",
            at=local("2026-11-16 10:00"),
        )
    )
    record_export(
        session,
        viewer=Viewer.of(user),
        kind=KIND_ORDERS,
        parameters={"street": "静安寺街道"},
        row_count=1,
        masked=True,
        now=local("2026-11-16 10:00"),
    )
    session.commit()


def _wipes(dialect: str, table: str) -> list[str]:
    column = {"order_event": "note", "phone_reveal": "reason", "export_log": "kind"}[table]
    statements = [f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"]
    if dialect == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")
    return statements


def _assert_append_only(engine: Engine) -> None:
    for table in AUDIT_TABLES:
        for statement in _wipes(engine.dialect.name, table):
            with engine.connect() as conn:
                with pytest.raises(exc.DBAPIError, match="append-only"):
                    conn.execute(text(statement))
                conn.rollback()
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1, table


def test_audit_tables_refuse_update_delete_and_truncate(session: Session, engine: Engine, new_order) -> None:  # type: ignore[no-untyped-def]
    _fill(session, new_order)
    session.close()
    _assert_append_only(engine)


@pytest.fixture
def migrated_engine(tmp_path: Path) -> Iterator[Engine]:
    """A database built by the migrations alone (not by create_all)."""
    url = PG_URL or f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    yield engine
    engine.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (alembic_command.downgrade if down else alembic_command.upgrade)(cfg, revision)


def test_the_migration_makes_the_logs_append_only_and_goes_back_down(migrated_engine: Engine, calendar) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import seed
    from tracker.domain.deadlines import RuleTable
    from tracker.services.accounts import Actor
    from tracker.services.orders.actions import Context, NewOrder, create_order

    _migrate(migrated_engine, "head")
    _migrate(migrated_engine, BEFORE_THIS_ROUND, down=True)  # the downgrade runs on both databases
    with migrated_engine.connect() as conn:
        assert "export_log" not in SQLModel.metadata.tables or not migrated_engine.dialect.has_table(conn, "export_log")
    _migrate(migrated_engine, "head")
    with Session(migrated_engine, expire_on_commit=False) as session:
        seed(session)

        def new_order(dispatched: str):  # type: ignore[no-untyped-def]
            data = NewOrder(source="12345", order_no="SH1", dispatched_at=local(dispatched), request_type="投诉举报")
            ctx = Context(actor=Actor.importer("t"), now=local(dispatched), calendar=calendar, rules=RuleTable())
            return create_order(session, data=data, ctx=ctx)

        _fill(session, new_order)
    _assert_append_only(migrated_engine)


# --- every export is logged, in the same request


def one_order(engine: Engine, calendar) -> None:  # type: ignore[no-untyped-def]
    """One order of 静安寺街道, stored through the orders service."""
    from tracker.domain.deadlines import RuleTable
    from tracker.services.accounts import Actor
    from tracker.services.orders.actions import Context, NewOrder, create_order

    with Session(engine) as s:
        data = NewOrder(
            source="12345",
            order_no="SH1",
            dispatched_at=local("2026-11-16 09:00"),
            request_type="投诉举报",
            street="静安寺街道",
            phone="13812345678",
        )
        ctx = Context(actor=Actor.importer("t"), now=local("2026-11-16 09:00"), calendar=calendar, rules=RuleTable())
        create_order(s, data=data, ctx=ctx)
        s.commit()


@pytest.fixture
def exported(app, client, people, engine: Engine, calendar):  # type: ignore[no-untyped-def]
    """A supervisor signed in, one order of 静安寺街道 in the database."""
    one_order(engine, calendar)
    sign_in(client, people["supervisor"])
    return client


def test_the_orders_export_is_logged_with_who_what_filter_and_rows(exported, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    response = exported.get("/orders/export.xlsx?street=静安寺街道&q=")
    assert response.status_code == 200
    assert load_workbook(BytesIO(response.data)).active is not None
    with Session(engine) as s:
        logged = s.exec(select(ExportLog)).all()
    assert len(logged) == 1
    entry = logged[0]
    assert entry.kind == "工单列表" and entry.row_count == 1 and entry.masked
    assert entry.parameters == {"street": "静安寺街道"} and "测试duchao" in entry.user_name


def test_spot_check_exports_are_logged(exported, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    assert exported.get("/spot-checks/results.xlsx?month_from=2026-01").status_code == 200
    with Session(engine) as s:
        logged = s.exec(select(ExportLog)).all()
    assert [(e.kind, e.parameters) for e in logged] == [("抽查结果汇总", {"month_from": "2026-01"})]


def test_the_administrator_reads_the_export_log(app, client, people, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, people["admin"])
    assert client.get("/orders/export.xlsx").status_code == 200
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "工单列表" in page and "测试admin" in page
    with Session(engine) as s:
        assert len(s.exec(select(ExportLog)).all()) == 1
        assert s.exec(select(OrderEvent)).all() == []  # nothing else was written


def test_the_import_report_download_is_logged(app, client, people, engine: Engine, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tracker.models import ImportBatch

    header = "工单编号,派单时间,诉求类型,问题分类,地址,所属街镇,工单状态,签收时间,备注"
    rows = "\nE1,2026-11-16 09:00,求助,渣土,某路1号,北站街道,待签收,,\nE2,2026-13-16 09:00,求助,渣土,某路2号,北站街道,待签收,,\n"
    export = tmp_path / "导出.csv"
    export.write_text(header + rows, encoding="utf-8")
    list_streets(engine, "北站街道")  # the people's street list must hold the export's street
    result = runner.invoke(args=["import-orders", str(export), "--profile", "12345", "--user", "王敏"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        batch = s.exec(select(ImportBatch.batch)).one()
    sign_in(client, people["admin"])
    assert client.get(f"/imports/batches/{batch}/rejected.xlsx").status_code == 200
    with Session(engine) as s:
        logged = s.exec(select(ExportLog)).all()
    assert [(e.kind, e.parameters["batch"], e.row_count, e.masked) for e in logged] == [("导入报告", batch, 1, False)]
