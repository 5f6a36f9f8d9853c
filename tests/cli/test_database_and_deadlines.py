"""Operator commands: init-db (migrations, repeatable), deadline, calendar, rules, demo-load."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from tests.conftest import PG_URL
from tracker import create_app
from tracker.db import make_engine
from tracker.models import CalendarYear, DeadlineRuleRow, Order


@pytest.fixture
def empty_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app on an empty database (no tables at all)."""
    url = PG_URL or f"sqlite:///{tmp_path / 'fresh.db'}"
    if PG_URL:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    yield app
    if "tracker_engine" in app.extensions:
        app.extensions["tracker_engine"].dispose()


def test_init_db_migrates_seeds_and_can_run_again(empty_app) -> None:  # type: ignore[no-untyped-def]
    runner = empty_app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert "已建立新数据库（结构版本 " in first.output and "2026" in first.output and "11 条" in first.output
    assert "已是最新结构" not in first.output
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0 and "无（已全部载入）" in second.output and "0 条" in second.output
    assert "数据库已是最新结构（版本 " in second.output
    engine = make_engine(empty_app.config["DATABASE_URL"])
    with Session(engine) as session:
        assert len(session.exec(select(CalendarYear)).all()) == 23
        assert len(session.exec(select(DeadlineRuleRow)).all()) == 11
    with engine.connect() as conn:  # the migrations build exactly what the models describe
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    # Alembic cannot compare an expression index (level_rank DESC): it reports it removed and added
    expression_indexes = {"ix_alert_open_order"}
    diff = [d for d in diff if not (d[0] in ("add_index", "remove_index") and d[1].name in expression_indexes)]
    assert diff == []


def test_deadline_command_prints_the_due_date_and_why(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["deadline", "2026-02-13T10:00", "--working-days", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "截止时间：2026-02-14 23:59（北京时间）"
    assert "调休补班计入：2026-02-14（周六，春节补班，计为第 1 个工作日）" in result.output


def test_deadline_command_refuses_unloaded_years_and_bad_input(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["deadline", "2026-12-30T10:00", "--working-days", "5"])
    assert result.exit_code == 1 and "2027 年节假日安排尚未载入" in result.output
    result = runner.invoke(args=["deadline", "明天", "--working-days", "5"])
    assert result.exit_code == 2 and "起算时间「明天」不是 ISO-8601 格式" in result.output
    result = runner.invoke(args=["deadline", "2026-02-13T10:00"])
    assert result.exit_code == 2 and "请指定 --working-days 或 --hours 其中之一" in result.output


def test_calendar_load_and_status(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "2027.toml"  # test data only, not the official 2027 arrangement
    good.write_text(
        'year = 2027\n[[holidays]]\nname = "元旦"\nstart = 2027-01-01\nend = 2027-01-03\n', encoding="utf-8"
    )
    result = runner.invoke(args=["calendar", "load", str(good)])
    assert result.exit_code == 0, result.output
    assert "已载入 2027 年节假日安排：节假日 3 天，调休补班 0 天" in result.output
    assert "2027 年：来源 文件 2027.toml" in runner.invoke(args=["calendar", "status"]).output
    bad = tmp_path / "bad.toml"
    bad.write_text("year = 1999\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "load", str(bad)])
    assert result.exit_code == 1 and "year 应为 2000–2100 之间的年份，实际为：1999" in result.output


def test_rules_list_and_set(runner) -> None:  # type: ignore[no-untyped-def]
    assert "投诉举报" in runner.invoke(args=["rules", "list"]).output
    result = runner.invoke(args=["rules", "set", "closure", "3", "--request-type", "求助", "--note", "本局规定"])
    assert result.exit_code == 0 and "规则已保存" in result.output
    assert '"amount": 3' in runner.invoke(args=["rules", "list", "--json"]).output
    result = runner.invoke(args=["rules", "set", "先行联系", "4", "--unit", "hours", "--urgency", "紧急"])
    assert result.exit_code == 0, result.output
    assert "先行联系·紧急" not in result.output and "4 小时" in runner.invoke(args=["rules", "list"]).output
    result = runner.invoke(args=["rules", "set", "closure", "400"])
    assert result.exit_code == 1 and "办结期限「400」应在 0–365 之间" in result.output


def test_demo_load_command(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    assert result.exit_code == 0, result.output
    assert "新建 220 件" in result.output and "新建 90 件" in result.output and "拒绝 0 行" in result.output
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as session:
        assert len(session.exec(select(Order)).all()) == 310
    engine.dispose()


def test_help_is_in_chinese(runner) -> None:  # type: ignore[no-untyped-def]
    output = runner.invoke(args=["--help"]).output
    assert "迁移数据库到最新结构" in output and "载入 sample_orders/" in output


def test_a_long_lock_wait_does_not_stay_on_the_pooled_connection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text
    from sqlmodel import Session as DbSession
    from sqlmodel import SQLModel

    from tracker.db import make_engine, take_write_lock

    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}", busy_timeout_ms=5000)
    SQLModel.metadata.create_all(engine)
    with DbSession(engine) as session:
        take_write_lock(session, wait_ms=30 * 60 * 1000)
        assert session.execute(text("PRAGMA busy_timeout")).scalar_one() == 5000
        session.rollback()
    engine.dispose()
