"""import-orders --backfill: only into a database with no order, and every index there again afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import PG_URL
from tests.services.test_import_copy import dump
from tracker import create_app
from tracker.db import get_engine, make_engine
from tracker.services.imports import backfill

ROOT = Path(__file__).resolve().parents[2]
XLSX = ROOT / "sample_orders" / "12345工单导出_2026-11-20.xlsx"
CSV = ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv"
TABLES = "('work_order', 'order_deadline', 'order_event')"


@pytest.fixture
def migrated_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app on a database built by the migrations (init-db), with no order."""
    url = PG_URL or f"sqlite:///{tmp_path / 'history.db'}"
    if PG_URL:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    yield app
    get_engine(app).dispose()


def index_defs(app: Any) -> dict[str, str]:
    """Every index of the import's tables (keys and secondary), as the database defines it."""
    query = (
        f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN {TABLES}"
        if PG_URL
        else f"SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name IN {TABLES}"
    )
    with app.app_context(), get_engine().connect() as conn:
        return dict(conn.execute(text(query)).all())  # type: ignore[arg-type]


def counts(app: Any) -> tuple[int, ...]:
    with app.app_context(), get_engine().connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("work_order", "order_deadline", "order_event")
        )


def test_backfill_imports_the_same_rows_and_rebuilds_every_index(migrated_app) -> None:  # type: ignore[no-untyped-def]
    runner = migrated_app.test_cli_runner()
    migrated = index_defs(migrated_app)
    assert {"ix_work_order_dispatched", "ix_order_event_order_id", "ix_order_deadline_open_due"} <= set(migrated)
    dry = runner.invoke(args=["import-orders", "--backfill", "--dry-run", str(XLSX), "--profile", "12345"])
    assert dry.exit_code == 0, dry.output
    assert index_defs(migrated_app) == migrated and counts(migrated_app) == (0, 0, 0)
    result = runner.invoke(args=["import-orders", "--backfill", str(XLSX), "--profile", "12345"])
    assert result.exit_code == 0, result.output
    assert "新建 220" in result.output
    assert index_defs(migrated_app) == migrated  # every index back, defined as the migrations defined it
    backfilled = written(migrated_app)
    # the same file imported the everyday way, into the same kind of database, writes the very same rows
    empty_again(migrated_app)
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["import-orders", str(XLSX), "--profile", "12345"]).exit_code == 0
    assert written(migrated_app) == backfilled


def written(app: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The orders, deadlines and events the one import stored."""
    with app.app_context():
        with get_engine().connect() as conn:
            batch = conn.execute(text("SELECT batch FROM import_batch")).scalar_one()
        return dump(get_engine(), batch)


def empty_again(app: Any) -> None:
    """The app's database emptied whole (PostgreSQL: its schema; SQLite: its file)."""
    with app.app_context():
        get_engine().dispose()
        if PG_URL:
            with get_engine().begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            get_engine().dispose()
        else:
            Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).unlink()


def test_backfill_is_refused_on_a_database_with_orders(migrated_app) -> None:  # type: ignore[no-untyped-def]
    runner = migrated_app.test_cli_runner()
    migrated = index_defs(migrated_app)
    assert runner.invoke(args=["import-orders", str(CSV), "--profile", "城管诉件"]).exit_code == 0
    before = counts(migrated_app)
    result = runner.invoke(args=["import-orders", "--backfill", str(XLSX), "--profile", "12345"])
    assert result.exit_code == 1
    assert "整个文件未导入。数据库中已有 90 条工单，不能按 --backfill 导入" in result.output
    assert counts(migrated_app) == before and index_defs(migrated_app) == migrated


def test_a_backfill_that_fails_leaves_every_index(migrated_app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    migrated = index_defs(migrated_app)
    real_import = backfill.import_file

    def import_then_fail(*args: Any, **kwargs: Any) -> Any:
        real_import(*args, **kwargs)  # the rows are written, the indexes still dropped
        raise RuntimeError("磁盘已满")

    monkeypatch.setattr(backfill, "import_file", import_then_fail)
    result = migrated_app.test_cli_runner().invoke(
        args=["import-orders", "--backfill", str(XLSX), "--profile", "12345"]
    )
    assert isinstance(result.exception, RuntimeError)
    assert index_defs(migrated_app) == migrated and counts(migrated_app) == (0, 0, 0)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL's planner statistics (pg_class.reltuples)")
def test_a_backfill_leaves_the_planner_statistics_of_what_it_wrote(migrated_app) -> None:  # type: ignore[no-untyped-def]
    runner = migrated_app.test_cli_runner()
    result = runner.invoke(args=["import-orders", "--backfill", str(XLSX), "--profile", "12345"])
    assert result.exit_code == 0, result.output
    with migrated_app.app_context(), get_engine().connect() as conn:
        analysed = dict(
            conn.execute(
                text(f"SELECT tablename, count(*) FROM pg_stats WHERE tablename IN {TABLES} GROUP BY tablename")
            ).all()  # type: ignore[arg-type]
        )
    # column statistics (what the planner needs to choose an index for source = … and order_id IN …) exist
    # only once the table is analysed; rebuilding the indexes gives the row count alone
    assert set(analysed) == {"work_order", "order_deadline", "order_event"}
