"""Fixtures that read like the domain: a calendar, a database session, an app, a few orders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import jobs.cli
import tracker.models
from tests.helpers import local
from tests.helpers_notify import mailbox, robot  # noqa: F401 (a local group robot and SMTP server)
from tracker import create_app
from tracker.db import make_engine
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.services.accounts.actors import Actor
from tracker.services.orders.actions import Context, NewOrder, create_order
from tracker.services.orders.calendar import _store, package_arrangements
from tracker.services.orders.rules import seed_default_rules

PG_URL = os.environ.get("TRACKER_TEST_DATABASE_URL", "").strip()
pytest_plugins = ["tests.log_check"]  # the whole run's logs, masked as in production, searched for phone numbers


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    """The official calendar from the chinesecalendar package (2004–2026)."""
    return WorkCalendar.from_arrangements(package_arrangements())


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file per test, or the PostgreSQL test database when configured."""
    return PG_URL or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An empty schema built from the models (migrations are tested separately)."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def seed(session: Session, years: tuple[int, ...] = (2025, 2026)) -> None:
    """Store the official arrangement of ``years`` and the default rules."""
    for arrangement in package_arrangements():
        if arrangement.year in years:
            _store(session, arrangement, actor=Actor.cli("test"), now=local("2026-01-01 00:00"))
    seed_default_rules(session)
    session.flush()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session over a database holding the 2025–2026 calendar and the default rules."""
    with Session(engine, expire_on_commit=False) as session:
        seed(session)
        session.commit()
        yield session


@pytest.fixture
def squad() -> Actor:
    """A squad member of 静安寺街道."""
    return Actor(id="user:7", name="静安寺街道执法队 张三", source="web")


@pytest.fixture
def make_ctx(calendar: WorkCalendar, squad: Actor):  # type: ignore[no-untyped-def]
    """Context at a given Beijing time."""

    def make(when: str, actor: Actor = squad) -> Context:
        return Context(actor=actor, now=local(when), calendar=calendar, rules=RuleTable())

    return make


@pytest.fixture
def new_order(session: Session, make_ctx):  # type: ignore[no-untyped-def]
    """Create an order dispatched at a Beijing time."""

    def make(
        dispatched: str = "2026-02-13 10:00", order_no: str = "SH202602130001", **fields: object
    ) -> tracker.models.Order:
        data = NewOrder(
            source="12345",
            order_no=order_no,
            dispatched_at=local(dispatched),
            request_type=str(fields.pop("request_type", "投诉举报")),
            **fields,
        )  # type: ignore[arg-type]
        return create_order(session, data=data, ctx=make_ctx(dispatched, Actor.importer("t1")))

    return make


@pytest.fixture
def app(database_url: str, engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The app on the test database (schema built, calendar and rules seeded); attachments under tmp_path."""
    with Session(engine) as s:
        seed(s)
        s.commit()
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test"}
    app = create_app({**config, "ATTACHMENT_DIR": str(tmp_path / "attachments")})
    jobs.cli.init_app(app)  # as wsgi.py does: the scheduler's run-job command
    yield app
    app.extensions["tracker_engine"].dispose() if "tracker_engine" in app.extensions else None


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()
