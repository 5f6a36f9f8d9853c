"""Helpers for import tests: write small exports, run the importer with test options."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.deadlines import RuleTable
from tracker.services.accounts.actors import Actor
from tracker.services.imports.importer import ImportOptions, import_file
from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import Limits
from tracker.services.imports.report import ImportReport
from tracker.services.orders.calendar import load_calendar

CLERK = Actor(id="user:3", name="区局诉件管理员 王敏", source="web")


def run_import(
    session: Session,
    path: Path,
    *,
    profile: str | None = "12345",
    source: str | None = None,
    now: str = "2026-11-26 09:00",
    limits: Limits | None = None,
    chunk_rows: int = 2000,
) -> ImportReport:
    """Import ``path`` as the clerk would, at a Beijing time."""
    options = ImportOptions(
        actor=CLERK,
        now=local(now),
        calendar=load_calendar(session),
        rules=RuleTable(),
        profile=load_profile(profile) if profile else None,
        source=source,
        limits=limits or Limits(),
        chunk_rows=chunk_rows,
    )
    return import_file(session, path, options=options)


def write_csv(tmp_path: Path, header: str, *rows: str, name: str = "export.csv", encoding: str = "utf-8-sig") -> Path:
    """A CSV export with the given header line and rows."""
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def count(session: Session, model: type) -> int:
    """Rows in a table."""
    return int(session.exec(select(func.count()).select_from(model)).one())
