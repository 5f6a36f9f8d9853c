"""Configuration from environment variables, with safe defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """A setting that cannot be used (the message says which variable and what to do, in Chinese)."""


def secret(name: str) -> str:
    """A secret from ``NAME``, else from the file named by ``NAME_FILE`` (Docker and systemd credentials)."""
    value = os.environ.get(name, "")
    if value:
        return value
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE 指向的文件「{path}」无法读取：{exc.strerror or exc}") from None


def database_url(instance_path: str) -> str:
    """TRACKER_DATABASE_URL (or TRACKER_DATABASE_URL_FILE), else SQLite at instance/tracker.db."""
    url = secret("TRACKER_DATABASE_URL").strip()
    if url:
        return url
    return f"sqlite:///{Path(instance_path) / 'tracker.db'}"


def load(instance_path: str) -> dict[str, Any]:
    """The app's settings: every key can be set with a TRACKER_ environment variable."""
    return {
        "SECRET_KEY": secret("TRACKER_SECRET_KEY") or secrets.token_hex(32),
        "SECRET_KEY_GIVEN": bool(secret("TRACKER_SECRET_KEY")),
        "TRUSTED_PROXIES": int(os.environ.get("TRACKER_TRUSTED_PROXIES", "0")),
        # the first wait of the sign-in back-off (doubling up to 15 minutes); see README "Sign-in"
        "SIGNIN_BACKOFF_SECONDS": float(os.environ.get("TRACKER_SIGNIN_BACKOFF_SECONDS", "30")),
        "LOG_FORMAT": "text" if os.environ.get("TRACKER_LOG_FORMAT", "json") == "text" else "json",
        "METRICS_ALLOW": os.environ.get("TRACKER_METRICS_ALLOW", "127.0.0.1,::1"),
        "DATABASE_URL": database_url(instance_path),
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("TRACKER_SQLITE_BUSY_TIMEOUT_MS", "5000")),
        # how long a web request that writes waits for SQLite's write lock before answering 503 (系统繁忙)
        "SQLITE_WRITE_WAIT_MS": int(os.environ.get("TRACKER_SQLITE_WRITE_WAIT_MS", "25000")),
        "DISPLAY_TIMEZONE": "Asia/Shanghai",
        "IMPORT_MAX_BYTES": int(os.environ.get("TRACKER_IMPORT_MAX_BYTES", str(1024 * 1024 * 1024))),
        "IMPORT_MAX_UNZIPPED_BYTES": int(os.environ.get("TRACKER_IMPORT_MAX_UNZIPPED_BYTES", str(400 * 1024 * 1024))),
        "IMPORT_MAX_SHEET_BYTES": int(os.environ.get("TRACKER_IMPORT_MAX_SHEET_BYTES", str(200 * 1024 * 1024))),
        "IMPORT_MAX_CELLS": int(os.environ.get("TRACKER_IMPORT_MAX_CELLS", "10000000")),
        "IMPORT_MAX_CELL_CHARS": int(os.environ.get("TRACKER_IMPORT_MAX_CELL_CHARS", "32767")),
        "IMPORT_MAX_ROWS": int(os.environ.get("TRACKER_IMPORT_MAX_ROWS", "2000000")),
        "REPEAT_WINDOW_DAYS": int(os.environ.get("TRACKER_REPEAT_WINDOW_DAYS", "30")),
        "INBOX_DIR": os.environ.get("TRACKER_INBOX_DIR") or str(Path(instance_path) / "inbox"),
        # a file not renamed in is taken once it has not been written to for this long (README "inbox")
        "INBOX_SETTLE_SECONDS": float(os.environ.get("TRACKER_INBOX_SETTLE_SECONDS", "60")),
        "UPLOAD_DIR": os.environ.get("TRACKER_UPLOAD_DIR") or str(Path(instance_path) / "uploads"),
        # the profile the upload form starts with when the clerk has not imported before (12345 and 城管诉件
        # exports share their headers, so detection alone cannot tell them apart)
        "DEFAULT_PROFILE": os.environ.get("TRACKER_DEFAULT_PROFILE", "").strip(),
        "UPLOAD_STALE_HOURS": float(os.environ.get("TRACKER_UPLOAD_STALE_HOURS", "24")),
        "ATTACHMENT_DIR": os.environ.get("TRACKER_ATTACHMENT_DIR") or str(Path(instance_path) / "attachments"),
        "ATTACHMENT_MAX_BYTES": int(os.environ.get("TRACKER_ATTACHMENT_MAX_BYTES", str(15 * 1024 * 1024))),
        "ATTACHMENT_MAX_PIXELS": int(os.environ.get("TRACKER_ATTACHMENT_MAX_PIXELS", "50000000")),
        "ATTACHMENT_MAX_FILES": int(os.environ.get("TRACKER_ATTACHMENT_MAX_FILES", "4")),
        "ATTACHMENT_REMOVAL_MINUTES": float(os.environ.get("TRACKER_ATTACHMENT_REMOVAL_MINUTES", "30")),
        "PII_RETENTION_DAYS": int(os.environ.get("TRACKER_PII_RETENTION_DAYS", "730")),
        "FILE_RETENTION_DAYS": int(os.environ.get("TRACKER_FILE_RETENTION_DAYS", "90")),
        "LOGIN_RETENTION_DAYS": int(os.environ.get("TRACKER_LOGIN_RETENTION_DAYS", "90")),
        "REVEAL_RETENTION_DAYS": int(os.environ.get("TRACKER_REVEAL_RETENTION_DAYS", "1095")),
        "RETENTION_AT": os.environ.get("TRACKER_RETENTION_AT", "02:30"),
        "SCAN_EVERY_MINUTES": float(os.environ.get("TRACKER_SCAN_EVERY_MINUTES", "10")),
        "INBOX_AT": os.environ.get("TRACKER_INBOX_AT", "07:00"),
        "CALENDAR_WATCH_AT": os.environ.get("TRACKER_CALENDAR_WATCH_AT", "09:00"),
        "ALERT_BLUE_WORKING_DAYS": int(os.environ.get("TRACKER_ALERT_BLUE_WORKING_DAYS", "1")),
        "ALERT_YELLOW_HOURS": int(os.environ.get("TRACKER_ALERT_YELLOW_HOURS", "4")),
        "METRICS_AT": os.environ.get("TRACKER_METRICS_AT", "01:00"),
        "DIGEST_AT": os.environ.get("TRACKER_DIGEST_AT", "08:30"),
        "DIGEST_RECIPIENTS": os.environ.get("TRACKER_DIGEST_RECIPIENTS", ""),
        "SMTP_HOST": os.environ.get("TRACKER_SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("TRACKER_SMTP_PORT", "25")),
        "SMTP_FROM": os.environ.get("TRACKER_SMTP_FROM", "tracker@localhost"),
        "SMTP_USER": os.environ.get("TRACKER_SMTP_USER", ""),
        "SMTP_PASSWORD": secret("TRACKER_SMTP_PASSWORD"),
        "SMTP_STARTTLS": os.environ.get("TRACKER_SMTP_STARTTLS", "") in ("1", "true", "yes"),
        # squad notifications (README "Squad notifications"): links in messages, how often the outbox is sent
        "PUBLIC_URL": os.environ.get("TRACKER_PUBLIC_URL", "").strip(),
        "NOTIFY_EVERY_MINUTES": float(os.environ.get("TRACKER_NOTIFY_EVERY_MINUTES", "1")),
        "NOTIFY_MAX_ATTEMPTS": int(os.environ.get("TRACKER_NOTIFY_MAX_ATTEMPTS", "12")),
        "NOTIFY_KEEP_DAYS": int(os.environ.get("TRACKER_NOTIFY_KEEP_DAYS", "90")),
        # tests only: a robot URL may be http://127.0.0.1:PORT (never in production)
        "NOTIFY_ALLOW_LOOPBACK": os.environ.get("TRACKER_NOTIFY_ALLOW_LOOPBACK", "") in ("1", "true", "yes"),
        "SCHEDULER_LEASE_SECONDS": int(os.environ.get("TRACKER_SCHEDULER_LEASE_SECONDS", "45")),
        "UPLOAD_MAX_BYTES": int(os.environ.get("TRACKER_UPLOAD_MAX_BYTES", str(100 * 1024 * 1024))),
        "REQUEST_MAX_BYTES": int(os.environ.get("TRACKER_REQUEST_MAX_BYTES", str(1024 * 1024))),
        # Open311 GeoReport v2 under /open311/v2 (README "Open311"): off unless set; bounds, rate, cache
        "OPEN311": os.environ.get("TRACKER_OPEN311", "") in ("1", "true", "yes"),
        "OPEN311_DESCRIPTION": os.environ.get("TRACKER_OPEN311_DESCRIPTION", "") in ("1", "true", "yes"),
        "OPEN311_JURISDICTION": os.environ.get("TRACKER_OPEN311_JURISDICTION", "").strip(),
        "OPEN311_MAX_PAGE_SIZE": int(os.environ.get("TRACKER_OPEN311_MAX_PAGE_SIZE", "1000")),
        "OPEN311_MAX_DAYS": int(os.environ.get("TRACKER_OPEN311_MAX_DAYS", "90")),
        "OPEN311_RATE_LIMIT": int(os.environ.get("TRACKER_OPEN311_RATE_LIMIT", "60")),
        "OPEN311_RATE_WINDOW_SECONDS": float(os.environ.get("TRACKER_OPEN311_RATE_WINDOW_SECONDS", "60")),
        "OPEN311_CACHE_SECONDS": float(os.environ.get("TRACKER_OPEN311_CACHE_SECONDS", "60")),
        "SESSION_COOKIE_SECURE": os.environ.get("TRACKER_SESSION_COOKIE_SECURE", "") in ("1", "true", "yes"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }
