"""The morning inbox: every export dropped in the inbox folder goes through the importer.

A file in a subfolder named after a profile (``inbox/12345/``, ``inbox/城管诉件/``) is read
with that profile; a file at the top is recognised by its headers. Each file is its own
transaction; an imported file moves to ``done/``, a refused one to ``failed/``, each with its
report (``<file>.report.json``) beside it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.domain.errors import TrackerError
from tracker.services.accounts import Actor
from tracker.services.imports.importer import ImportOptions, import_file, lock_imports, plan_first_default
from tracker.services.imports.profiles import ProfileError, load_profile
from tracker.services.imports.reader import Limits
from tracker.services.orders import load_calendar, rule_table

SUFFIXES = (".xlsx", ".xls", ".csv")


@dataclass(frozen=True)
class InboxResult:
    """What one pass over the inbox did."""

    imported: list[str]
    refused: list[str]

    def summary(self) -> str:
        """One line for the job record."""
        return f"收件箱：导入 {len(self.imported)} 个文件，拒绝 {len(self.refused)} 个文件"


def pending_files(inbox: Path) -> list[Path]:
    """Export files waiting in the inbox (top level and profile subfolders), oldest name first."""
    if not inbox.exists():
        return []
    files = [p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
    for folder in inbox.iterdir():
        if folder.is_dir() and folder.name not in ("done", "failed"):
            files += [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
    return sorted(files, key=lambda p: (p.parent.name, p.name))


def process_inbox(
    engine: Engine, inbox: Path, *, now: datetime, limits: Limits, repeat_window: timedelta, actor: Actor
) -> InboxResult:
    """Import every pending file, one transaction each, and file it under done/ or failed/."""
    imported: list[str] = []
    refused: list[str] = []
    for path in pending_files(inbox):
        report: dict[str, object]
        try:
            profile = load_profile(path.parent.name) if path.parent != inbox else None
            with Session(engine, expire_on_commit=False) as session:
                plan_first = plan_first_default(session)  # SQLite: plan before taking the write lock
                if not plan_first:
                    lock_imports(session)
                options = ImportOptions(
                    actor=actor,
                    now=now,
                    calendar=load_calendar(session),
                    rules=rule_table(session),
                    profile=profile,
                    limits=limits,
                    repeat_window=repeat_window,
                    plan_first=plan_first,
                )
                result = import_file(session, path, options=options)
                session.commit()
            report, target = result.as_json(), inbox / "done"
            imported.append(path.name)
        except (TrackerError, ProfileError) as exc:
            report, target = {"file": path.name, "refused": exc.message}, inbox / "failed"
            refused.append(path.name)
        target.mkdir(parents=True, exist_ok=True)
        moved = target / path.name
        if moved.exists():
            moved = target / f"{path.stem}.{now:%Y%m%d%H%M%S}{path.suffix}"
        shutil.move(str(path), moved)
        moved.with_name(moved.name + ".report.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return InboxResult(imported, refused)
