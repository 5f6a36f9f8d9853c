"""The export log: every XLSX/CSV download of orders or results, with who, when, the filter and the row count.

Exports carry personal data (masked or not, PIPL); the log is append-only at the database
(triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE), like the phone-reveal log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tracker.models import ExportLog
from tracker.services.accounts.users import Viewer

KIND_ORDERS = "工单列表"
KIND_SPOT_CHECK_PLAN = "抽查结果"
KIND_SPOT_CHECK_SUMMARY = "抽查结果汇总"
KIND_IMPORT_REPORT = "导入报告"
KIND_HOTSPOTS = "重复诉件热点"
KIND_NOTICE_REPLY = "通报回复"
MAX_PARAMETERS = 30
MAX_VALUE_LENGTH = 200


def clean_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The filter as stored: at most 30 keys, each value as text of at most 200 characters."""
    items = list(parameters.items())[:MAX_PARAMETERS]
    return {str(key)[:64]: str(value)[:MAX_VALUE_LENGTH] for key, value in items if value not in (None, "")}


def record_export(
    session: Session,
    *,
    viewer: Viewer,
    kind: str,
    parameters: Mapping[str, Any],
    row_count: int,
    masked: bool,
    now: datetime,
) -> ExportLog:
    """Log one export in the caller's transaction (the request commits it with nothing else)."""
    entry = ExportLog(
        user_id=viewer.user_id,
        user_name=viewer.label[:128],
        at=now,
        kind=kind[:32],
        parameters=clean_parameters(parameters),
        row_count=row_count,
        masked=masked,
    )
    session.add(entry)
    session.flush()
    return entry


def export_logs(session: Session, *, limit: int, offset: int) -> tuple[list[ExportLog], int]:
    """A page of the export log, newest first, and the total count."""
    total = int(session.exec(select(func.count()).select_from(ExportLog)).one())
    rows = session.exec(
        select(ExportLog).order_by(col(ExportLog.at).desc(), col(ExportLog.id).desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total
