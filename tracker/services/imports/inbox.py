"""The morning inbox: every export dropped in the inbox folder goes through the importer.

A file in a subfolder named after a profile (``inbox/12345/``, ``inbox/城管诉件/``) is read
with that profile; a file at the top is recognised by its headers. Each file is its own
transaction; an imported file moves to ``done/``, a refused one to ``failed/``, each with its
report (``<file>.report.json``) beside it.

Only a complete file is taken. A file still being copied in would be imported in part (a
half-copied CSV once lost 11,360 of its 20,000 rows and stored its cut-off last row), so:
names that say "not finished" are never taken (``*.part``, ``*.tmp``, ``*.crdownload``, a
leading ``.`` or ``~$``); a file renamed into the inbox after it was written (its inode
change time later than its last write: the write-then-rename convention) is taken at once;
any other file only once it has not been written to for the settle time
(``TRACKER_INBOX_SETTLE_SECONDS``, 60 by default), and is otherwise left for the next pass.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
SETTLE_SECONDS = 60.0


@dataclass(frozen=True)
class InboxResult:
    """What one pass over the inbox did (``waiting``: files still being written, left for the next pass)."""

    imported: list[str]
    refused: list[str]
    waiting: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the job record."""
        line = f"收件箱：导入 {len(self.imported)} 个文件，拒绝 {len(self.refused)} 个文件"
        if self.waiting:
            line += f"；{len(self.waiting)} 个文件可能仍在写入，留待下次：{'、'.join(self.waiting)}"
        return line


def unfinished_name(name: str) -> bool:
    """A name a writer gives a file it has not finished (or a hidden or lock file)."""
    lowered = name.lower()
    return name.startswith((".", "~$")) or lowered.endswith((".part", ".tmp", ".crdownload", ".partial"))


def pending_files(inbox: Path) -> list[Path]:
    """Export files waiting in the inbox (top level and profile subfolders), oldest name first."""
    if not inbox.exists():
        return []

    def wanted(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in SUFFIXES and not unfinished_name(path.name)

    files = [p for p in inbox.iterdir() if wanted(p)]
    for folder in inbox.iterdir():
        if folder.is_dir() and folder.name not in ("done", "failed") and not unfinished_name(folder.name):
            files += [p for p in folder.iterdir() if wanted(p)]
    return sorted(files, key=lambda p: (p.parent.name, p.name))


def is_complete(path: Path, *, wall: float, settle_seconds: float) -> bool:
    """Whether a file is whole: renamed in after its last write, or not written to for ``settle_seconds``.

    ``wall`` is the clock's time (seconds since the epoch, as the file system keeps them). A rename
    changes the inode's change time and not its modification time; a writer still writing moves both.
    """
    stat = os.stat(path)
    if stat.st_ctime_ns > stat.st_mtime_ns:
        return True
    return wall - stat.st_mtime >= settle_seconds


def process_inbox(
    engine: Engine,
    inbox: Path,
    *,
    now: datetime,
    limits: Limits,
    repeat_window: timedelta,
    actor: Actor,
    settle_seconds: float = SETTLE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> InboxResult:
    """Import every complete pending file, one transaction each, and file it under done/ or failed/."""
    imported: list[str] = []
    refused: list[str] = []
    waiting: list[str] = []
    for path in pending_files(inbox):
        if not is_complete(path, wall=clock(), settle_seconds=settle_seconds):
            waiting.append(path.name)
            continue
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
    return InboxResult(imported, refused, waiting)
