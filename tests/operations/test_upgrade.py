"""Upgrades: a database built at the first migration, holding data as that code wrote it, upgraded to head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from tests.conftest import PG_URL
from tracker import create_app
from tracker.cli.common import alembic_config
from tracker.db import get_engine, make_engine

FIRST = "2e9bdbf0ddb8"
T0 = "2026-11-26 02:00:00+00:00"


@pytest.fixture
def first_revision_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = PG_URL or f"sqlite:///{tmp_path / 'old.db'}"
    if PG_URL:
        with make_engine(url).begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        config = alembic_config()
        with get_engine().begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, FIRST)
            # an order and its events as the first release wrote them: personal values in plain text
            connection.execute(
                text(
                    "INSERT INTO work_order (id, source, order_no, cycle, state, cycle_started_at, dispatched_at,"
                    " extension_status, return_count, is_repeat, extras, created_at, updated_at, phone, complainant,"
                    " address, content, street)"
                    " VALUES (1, '12345', 'SH1', 1, 'handling', :t, :t, 'none', 0, false, '{}', :t, :t,"
                    " '13812345678', '王先生', '上海市静安区南京西路1266号', '回电13812345678', '静安寺街道')"
                ),
                {"t": T0},
            )
            changes = {"phone": ["13800000000", "13812345678"], "complainant": ["", "王先生"], "state": ["a", "b"]}
            connection.execute(
                text(
                    "INSERT INTO order_event (order_id, cycle, action, state_before, state_after, actor, actor_name,"
                    " source, at, note, changes) VALUES (1, 1, 'update', 'handling', 'handling', 'import', '导入',"
                    " 'import', :t, '来电 13912345678', :c)"
                ),
                {"t": T0, "c": json.dumps(changes, ensure_ascii=False)},
            )
    yield app
    get_engine(app).dispose()


def test_the_first_schema_with_its_data_upgrades_to_head(first_revision_app) -> None:  # type: ignore[no-untyped-def]
    result = first_revision_app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with first_revision_app.app_context(), get_engine().connect() as conn:
        order = conn.execute(text("SELECT order_no, phone, complainant, street, anonymised_at FROM work_order")).one()
        assert tuple(order) == ("SH1", "13812345678", "王先生", "静安寺街道", None)  # the order keeps its data
        note, changes = conn.execute(text("SELECT note, changes FROM order_event")).one()
        changes = json.loads(changes) if isinstance(changes, str) else changes
        assert note == "来电 139****5678"
        assert changes == {"phone": ["138****0000", "138****5678"], "complainant": ["", "王**"], "state": ["a", "b"]}
        run = conn.execute(text("SELECT outcome, counts FROM job_run WHERE job_id = 'audit-masking'")).one()
        counts = json.loads(run[1]) if isinstance(run[1], str) else run[1]
        assert run[0] == "ok" and counts == {"events": 1, "masked": 1}
    with first_revision_app.app_context(), pytest.raises(DatabaseError), get_engine().begin() as conn:
        conn.execute(text("UPDATE order_event SET note = 'x'"))  # the append-only guard is back
