"""The cheaper-rows migration (c8f2e4a6b913) on a database with data: checks as comparisons, up and down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tracker.db import make_engine

BEFORE = "a5d3c8e1f702"
T0 = "2026-11-26 02:00:00+00:00"
ORDER = (
    "INSERT INTO work_order (id, source, order_no, cycle, state, cycle_started_at, dispatched_at, extension_status,"
    " return_count, is_repeat, extras, created_at, updated_at) VALUES"
    " ({id}, '12345', 'SH{id}', 1, '{state}', :t, :t, 'none', 0, false, '{{}}', :t, :t)"
)
DEADLINE = (
    "INSERT INTO order_deadline (order_id, cycle, stage, started_at, amount, unit, rule_label, outcome)"
    " VALUES (1, 1, 'closure', :t, 5, 'working_days', '', {outcome})"
)
EVENT = (
    "INSERT INTO order_event (order_id, cycle, action, state_before, state_after, actor, actor_name, source, at,"
    " note, changes) VALUES (1, 1, '{action}', NULL, 'dispatched', 'import', '导入', 'import', :t, '', '{{}}')"
)


def check_texts(conn: sa.Connection) -> str:
    """Every check constraint of the import's tables, as the database holds it."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid::regclass::text"
            " IN ('work_order', 'order_deadline', 'order_event', 'import_issue')"
        ).scalars()
    else:
        rows = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table'"
            " AND name IN ('work_order', 'order_deadline', 'order_event', 'import_issue')"
        ).scalars()
    return "\n".join(rows)


def in_lists(texts: str) -> int:
    """How many checks are IN lists (PostgreSQL shows them as ``= ANY (ARRAY[…])``)."""
    return texts.count(" IN (") + texts.count("= ANY (")


def assert_guards(engine: sa.Engine) -> None:
    """Good values pass, a wrong one is refused in each checked column; the trail stays append-only."""
    with engine.begin() as conn:
        conn.execute(sa.text(ORDER.format(id=2, state="closed")), {"t": T0})
        conn.execute(sa.text(DEADLINE.format(outcome="NULL")), {"t": T0})
        conn.execute(sa.text(DEADLINE.format(outcome="'late'")), {"t": T0})
        conn.execute(sa.text(EVENT.format(action="detach")), {"t": T0})
    for bad in (
        ORDER.format(id=3, state="closd"),
        DEADLINE.format(outcome="'late '"),
        EVENT.format(action="Dispatch"),
    ):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(bad), {"t": T0})
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE order_event SET note = 'x'")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM order_deadline WHERE order_id = 1 AND id > 1")
        conn.exec_driver_sql("DELETE FROM work_order WHERE id = 2")


def test_checks_become_comparisons_and_the_event_time_index_goes_then_back(database_url: str) -> None:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, BEFORE)
    with engine.begin() as conn:  # data written as the earlier schema held it
        conn.execute(sa.text(ORDER.format(id=1, state="handling")), {"t": T0})
        conn.execute(sa.text(DEADLINE.format(outcome="NULL")), {"t": T0})
        conn.execute(sa.text(EVENT.format(action="dispatch")), {"t": T0})
        assert in_lists(check_texts(conn)) == 7
    command.upgrade(config, "c8f2e4a6b913")
    with engine.begin() as conn:
        texts = check_texts(conn)
        assert in_lists(texts) == 0 and texts.count(" OR ") == 38 and "'detach'" in texts and "IS NULL" in texts
        assert conn.exec_driver_sql("SELECT count(*) FROM order_event").scalar() == 1  # the data stays
        assert conn.exec_driver_sql("SELECT state FROM work_order").scalar() == "handling"
        assert "ix_order_event_at" not in {i["name"] for i in sa.inspect(conn).get_indexes("order_event")}
    assert_guards(engine)
    command.downgrade(config, BEFORE)
    with engine.begin() as conn:
        assert "ix_order_event_at" in {i["name"] for i in sa.inspect(conn).get_indexes("order_event")}
        assert in_lists(check_texts(conn)) == 7
    assert_guards(engine)
    command.upgrade(config, "head")
    engine.dispose()
