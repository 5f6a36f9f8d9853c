"""What every command shares: the Alembic upgrade, the one unit of work, a Chinese failure, local times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session

from tracker.db import get_engine, get_session
from tracker.domain.deadlines import LOCAL_TZ
from tracker.domain.errors import TrackerError

MIGRATIONS = Path(__file__).parents[1] / "migrations"


def alembic_config() -> AlembicConfig:
    """Alembic configured for the tracker's migrations folder."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade_database() -> tuple[str | None, str | None]:
    """Bring the configured database to the newest schema (safe to run again): (revision before, after)."""
    cfg = alembic_config()
    with get_engine().begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        cfg.attributes["connection"] = connection
        alembic_command.upgrade(cfg, "head")
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The command's session: commits once at the end, rolls back on any error."""
    session = get_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def fail(exc: TrackerError) -> click.ClickException:
    """A tracker error as a command-line failure with its Chinese message."""
    return click.ClickException(exc.message)


def parse_local_time(value: str) -> datetime:
    """An ISO-8601 time typed at the command line; without an offset it is Beijing time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"起算时间「{value}」不是 ISO-8601 格式，例如 2026-02-13T10:00") from None
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment
