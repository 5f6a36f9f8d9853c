"""The 热线通报 migration (a5d3c8e1f702) goes up and down, and widens the rule table for the 核查 rule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tracker.db import make_engine


def test_up_down_up(database_url: str) -> None:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "a5d3c8e1f702")
    rule = (
        "INSERT INTO deadline_rule (stage, amount, unit, note, updated_at) "
        "VALUES ('{stage}', 3, 'working_days', '', '2026-12-06 00:00:00')"
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(rule.format(stage="verification"))
        assert {"hotline_notice", "notice_check", "notice_check_event"} <= set(sa.inspect(conn).get_table_names())
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(rule.format(stage="nonsense"))
    with engine.begin() as conn:  # the 核查 audit is append-only at the database itself
        conn.exec_driver_sql(
            "INSERT INTO hotline_notice (source, notice_no, file_name, imported_at, imported_by, imported_by_name) "
            "VALUES ('12345', 'TB1', 'f.xlsx', '2026-12-06 00:00:00', 'u', 'u')"
        )
        conn.exec_driver_sql(
            "INSERT INTO notice_check (notice_id, line_no, order_no, kind, requirement, due_at, due_basis, rule_label,"
            " status, cause, measures, return_reason, return_count) VALUES "
            "(1, 2, 'SH1', '不满意', '', '2026-12-09 00:00:00', 'rule', '', 'pending', '', '', '', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO notice_check_event (check_id, action, status_after, actor, actor_name, at, note, changes) "
            "VALUES (1, 'import', 'pending', 'u', 'u', '2026-12-06 00:00:00', '', '{}')"
        )
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE notice_check_event SET note = 'x'")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM notice_check_event")
    command.downgrade(config, "f1c8a4d27e95")
    with engine.begin() as conn:
        assert "notice_check" not in sa.inspect(conn).get_table_names()
        assert conn.exec_driver_sql("SELECT count(*) FROM deadline_rule WHERE stage = 'verification'").scalar() == 0
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(rule.format(stage="verification"))
    command.upgrade(config, "head")
    engine.dispose()
