"""Whether the database is ready for the app, and whether this process may take traffic, in words an operator
can act on (``/readyz``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from tracker.models import CalendarYear, JobRun
from tracker.services.operations.leadership import active_scheduler


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


MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class Readiness:
    """Whether this process may take traffic: each check's outcome, and the reasons it may not."""

    checks: dict[str, str]
    problems: list[str]

    @property
    def ready(self) -> bool:
        """True when nothing stands in the way."""
        return not self.problems


def schema_head() -> str:
    """The newest migration revision shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    return head or ""


def readiness(session: Session, *, now: datetime, scan_every: timedelta) -> Readiness:
    """Database reachable, schema at the code's head, a scheduler holding the lock, and a scan within two intervals."""
    checks: dict[str, str] = {}
    problems: list[str] = []
    try:
        current = MigrationContext.configure(session.connection()).get_current_revision()
    except SQLAlchemyError as exc:
        session.rollback()
        return Readiness(
            {"database": f"不可用（{type(exc).__name__}）"}, ["无法连接数据库：请检查 TRACKER_DATABASE_URL"]
        )
    checks["database"] = "可用"
    head = schema_head()
    checks["schema"] = f"{current or '空'} / 代码 {head}"
    if current != head:
        problems.append(
            f"数据库结构版本 {current or '（未初始化）'} 与代码 {head} 不一致：请运行 flask --app wsgi init-db"
        )
        return Readiness(checks, problems)
    holder = active_scheduler(session, now=now)
    checks["scheduler"] = f"当前调度进程：{holder}" if holder else "没有调度进程持有调度锁"
    if holder is None:
        problems.append("调度进程未在运行（没有进程持有调度锁）：请启动 python -m jobs")
        return Readiness(checks, problems)
    last = session.exec(select(func.max(JobRun.started_at)).where(JobRun.job_id == "scan")).one()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    checks["scan"] = f"最近一次预警扫描开始于 {last.isoformat()}" if last else "从未运行预警扫描"
    if last is None or now - last > 2 * scan_every:
        problems.append(
            f"预警扫描停滞：最近一次{'开始于 ' + last.isoformat() if last else '从未运行'}，"
            f"超过两个扫描周期（{2 * scan_every.total_seconds() / 60:.0f} 分钟）；请检查 python -m jobs 的日志"
        )
    return Readiness(checks, problems)
