"""Helpers for import tests: write small exports, run the importer with test options."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers import local
from tracker.domain.deadlines import RuleTable
from tracker.models import Street
from tracker.services.accounts.actors import Actor
from tracker.services.imports.importer import ImportOptions, import_file
from tracker.services.imports.profiles import load_profile
from tracker.services.imports.reader import Limits
from tracker.services.imports.report import ImportReport
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.directory import add_street

JINGAN_STREETS = (
    "静安寺街道", "曹家渡街道", "江宁路街道", "石门二路街道", "南京西路街道", "天目西路街道", "北站街道",
    "宝山路街道", "芷江西路街道", "共和新路街道", "大宁路街道", "彭浦新村街道", "临汾路街道", "彭浦镇",
)  # fmt: skip
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


def list_streets(engine: Engine, *names: str) -> None:
    """Put streets in the district's street list (an import refuses a street missing from a non-empty list)."""
    with Session(engine) as session:
        known = set(session.exec(select(Street.name)).all())
        for name in names:
            if name not in known:
                add_street(session, name=name)
        session.commit()
