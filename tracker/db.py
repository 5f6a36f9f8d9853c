"""Database engine and the request-scoped session: the boundary owns and commits it."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

EXTENSION_KEY = "tracker_engine"
WRITE_WAIT_MS = 25_000  # a web request's wait for SQLite's write lock (TRACKER_SQLITE_WRITE_WAIT_MS)
JOB_WRITE_WAIT_MS = 60_000  # a scheduled job's wait for it


class DatabaseBusy(Exception):
    """SQLite's write lock stayed taken (an import writing, say) for longer than the request may wait."""

    message = "系统繁忙：数据库正被其他操作（如正在导入的文件）占用，您的操作未保存，请稍后重试。"


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up waiting for a lock ("database is locked" / "database is busy")."""
    if not isinstance(exc, OperationalError):
        return False
    text_ = str(exc.orig).lower()
    return "database is locked" in text_ or "database is busy" in text_


def make_engine(url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # let SQLAlchemy, not pysqlite, issue BEGIN, so SAVEPOINTs behave (SQLAlchemy pysqlite docs)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def take_write_lock(session: Session, *, wait_ms: int | None = None) -> None:
    """On SQLite, take the write lock now, before any read (a no-op elsewhere).

    A SQLite transaction that has already read cannot wait for the write lock later: it fails at
    once when another connection committed in between. ``wait_ms`` lengthens the busy wait.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if wait_ms is None:
        session.execute(text("UPDATE scheduler_lease SET name = name WHERE 0"))  # a write that changes nothing
        return
    usual = session.execute(text("PRAGMA busy_timeout")).scalar_one()
    session.execute(text(f"PRAGMA busy_timeout = {int(wait_ms)}"))
    try:
        session.execute(text("UPDATE scheduler_lease SET name = name WHERE 0"))
    finally:  # the pooled connection goes back to its usual wait for whoever uses it next
        session.execute(text(f"PRAGMA busy_timeout = {int(usual)}"))


def get_engine(app: Flask | None = None) -> Engine:
    """The app's engine, created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    engine = app.extensions.get(EXTENSION_KEY)
    if engine is None:
        engine = make_engine(app.config["DATABASE_URL"], busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
        app.extensions[EXTENSION_KEY] = engine
    return engine


def get_session() -> Session:
    """The session of the current request or command; closed at teardown."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session; uncommitted work is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Wire the session's end into the app context teardown."""
    app.teardown_appcontext(close_session)


def write_wait_ms() -> int:
    """How long a web request waits for SQLite's write lock: the app's SQLITE_WRITE_WAIT_MS, else the default."""
    if has_app_context():
        return int(current_app.config.get("SQLITE_WRITE_WAIT_MS", WRITE_WAIT_MS))
    return WRITE_WAIT_MS


def begin_write(session: Session, *, wait_ms: int | None = None) -> None:
    """End the request's read transaction and take the write lock before reading what will change.

    A web request has already read (the signed-in user) when it decides to write; on SQLite that
    read transaction could not wait for the write lock, so it is ended first. The request waits for
    the lock up to ``wait_ms`` (default :func:`write_wait_ms`: an import's short write phase, a
    burst of sign-ins); past that it raises :class:`DatabaseBusy` (a 503 page), nothing written.
    """
    session.rollback()
    try:
        take_write_lock(session, wait_ms=write_wait_ms() if wait_ms is None else wait_ms)
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        session.rollback()
        raise DatabaseBusy(DatabaseBusy.message) from exc
