"""Whether the database is ready for the app, in words an operator can act on."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from tracker.models import CalendarYear


def schema_problem(session: Session) -> str | None:
    """None when the schema exists and a calendar is loaded; else what to do about it."""
    try:
        if not inspect(session.get_bind()).has_table("calendar_year"):
            return "数据库尚未初始化：请运行 flask --app wsgi init-db"
        if session.exec(select(CalendarYear.year).limit(1)).first() is None:
            return "尚未载入节假日安排：请运行 flask --app wsgi init-db"
    except SQLAlchemyError:
        session.rollback()
        return "无法连接数据库：请检查 TRACKER_DATABASE_URL"
    return None
