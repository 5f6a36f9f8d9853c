"""Backup and restore: the database (SQLite through its online backup API, PostgreSQL through ``pg_dump``'s
custom format) and the files under ``instance/`` that the database refers to (uploads, inbox, order attachments),
in one archive.

An archive is a ``.tar.gz`` holding ``manifest.json`` (format, when, which database kind, the schema
revision, every file's SHA-256), the database and the file folders. Restore checks every digest, refuses an
archive of another database kind or of a schema newer than this code knows, keeps the replaced folders
beside the new ones, and leaves the schema upgrade to ``init-db`` (the command runs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine, make_url

from tracker.domain.deadlines import to_local
from tracker.domain.errors import TrackerError
from tracker.services.operations.health import MIGRATIONS

FORMAT = 1
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"


class BackupError(TrackerError):
    """A backup that cannot be made or restored (the message says why and what to do)."""


@dataclass(frozen=True)
class BackupResult:
    """What an archive holds."""

    path: Path
    dialect: str
    revision: str | None
    files: int
    size: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def known_revisions() -> set[str]:
    """Every migration revision this code ships (an archive's revision must be one of them)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as a libpq connection string for pg_dump/pg_restore, the password in the environment."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # built afresh: URL.set(password=None) would leave the password in place, on pg_dump's command line (ps)
    dsn = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    ).render_as_string(hide_password=False)
    return dsn, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"找不到 {command[0]}：请安装 PostgreSQL 客户端（Debian：postgresql-client）") from None
    if done.returncode != 0:
        raise BackupError(f"{what}失败（{command[0]} 退出码 {done.returncode}）：{done.stderr.strip()[:500]}")


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份")
    return Path(database)


def create_backup(engine: Engine, *, folder: Path, file_folders: dict[str, Path], now: datetime) -> BackupResult:
    """Write one archive into ``folder``: the database and each of ``file_folders`` (name → folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    dialect = engine.dialect.name
    revision = _revision(engine)
    with tempfile.TemporaryDirectory(prefix="tracker-backup-") as tmp:
        staging = Path(tmp)
        if dialect == "sqlite":
            source = sqlite3.connect(_sqlite_path(engine))
            target = sqlite3.connect(staging / SQLITE_FILE)
            try:
                source.backup(target)  # a consistent copy while the app keeps writing
            finally:
                target.close()
                source.close()
        elif dialect == "postgresql":
            dsn, env = _libpq(engine)
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={staging / PG_FILE}", dsn], env, "数据库备份")
        else:
            raise BackupError(f"不支持备份 {dialect} 数据库")
        for name, source_folder in file_folders.items():
            if source_folder.is_dir():
                shutil.copytree(source_folder, staging / "files" / name)
        files = {
            path.relative_to(staging).as_posix(): _sha256(path) for path in sorted(staging.rglob("*")) if path.is_file()
        }
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "dialect": dialect,
            "schema_revision": revision,
            "folders": sorted(file_folders),
            "files": files,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        name = f"tracker-backup-{to_local(now).strftime('%Y%m%d-%H%M%S')}.tar.gz"
        partial = folder / (name + ".part")
        # personal data inside: readable by the service account only, whatever the umask
        with (
            os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out,
            tarfile.open(fileobj=out, mode="w:gz") as archive,
        ):
            for path in sorted(staging.iterdir()):
                archive.add(path, arcname=path.name)
        final = folder / name
        partial.replace(final)  # a half-written archive never carries the final name
    return BackupResult(final, dialect, revision, len(files), final.stat().st_size)


def read_manifest(archive: Path) -> dict[str, Any]:
    """The archive's manifest, or a refusal saying what is wrong with the file."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest: dict[str, Any] = json.loads(member.read().decode("utf-8"))
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"「{archive}」不是本系统的备份文件（{type(exc).__name__}）") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"备份文件格式 {manifest.get('format')} 无法识别（本程序为 {FORMAT}）")
    return manifest


@dataclass(frozen=True)
class RestoreResult:
    """What was restored, and where the replaced folders were kept."""

    revision: str | None
    files: int
    kept: list[Path]


def _extract(tar: tarfile.TarFile, staging: Path) -> None:
    """Unpack into ``staging`` only regular files and folders that stay inside it.

    Python's ``filter="data"`` does this where it exists (3.11.4 and later); Debian 12's Python 3.11.2
    lacks it, so there every member is checked first: no absolute path, no "..", no link or device.
    """
    if hasattr(tarfile, "data_filter"):
        try:
            tar.extractall(staging, filter="data")
        except tarfile.FilterError as exc:
            raise BackupError(_UNSAFE.format(name=exc.tarinfo.name)) from None
        return
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or not (member.isfile() or member.isdir()):
            raise BackupError(_UNSAFE.format(name=member.name))
        member.mode = 0o700 if member.isdir() else 0o600
    tar.extractall(staging)  # every member checked above


_UNSAFE = "备份文件含不安全的条目「{name}」（绝对路径、上级目录、链接或设备），未作任何恢复"


def restore_backup(engine: Engine, *, archive: Path, file_folders: dict[str, Path], now: datetime) -> RestoreResult:
    """Replace the database and the file folders with the archive's; checked before anything is touched."""
    manifest = read_manifest(archive)
    dialect = engine.dialect.name
    if manifest["dialect"] != dialect:
        raise BackupError(f"备份来自 {manifest['dialect']} 数据库，当前为 {dialect}：不能跨数据库类型恢复")
    revision = manifest.get("schema_revision")
    if revision and revision not in known_revisions():
        raise BackupError(
            f"备份的数据库结构版本 {revision} 比本程序新（本程序不认识该版本）：请先把程序升级到备份时的版本，再恢复"
        )
    with tempfile.TemporaryDirectory(prefix="tracker-restore-") as tmp:
        staging = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            _extract(tar, staging)
        for name, expected in manifest["files"].items():
            path = staging / name
            if not path.is_file() or _sha256(path) != expected:
                raise BackupError(f"备份文件已损坏：「{name}」缺失或校验不符，未作任何恢复")
        if dialect == "sqlite":
            source = sqlite3.connect(staging / SQLITE_FILE)
            target = sqlite3.connect(_sqlite_path(engine))
            try:
                source.backup(target)  # page by page into the live file, under SQLite's own locks
            finally:
                target.close()
                source.close()
        else:
            dsn, env = _libpq(engine)
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            _run(
                ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={dsn}", str(staging / PG_FILE)],
                env,
                "数据库恢复",
            )
        engine.dispose()  # pooled connections must not keep reading the replaced file
        kept = []
        stamp = to_local(now).strftime("%Y%m%d-%H%M%S")
        for name, folder in file_folders.items():
            restored = staging / "files" / name
            if folder.exists():
                aside = folder.with_name(f"{folder.name}.before-restore-{stamp}")
                folder.replace(aside)
                kept.append(aside)
            if restored.is_dir():
                shutil.copytree(restored, folder)
            else:
                folder.mkdir(parents=True, exist_ok=True)
    return RestoreResult(revision, len(manifest["files"]), kept)
