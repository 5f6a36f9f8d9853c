"""Import a 热线通报: each line becomes the 核查 of one named order, with its deadline; a rerun changes nothing.

The file is read with the order import's reader and limits (``imports.table_rows``). A line is keyed by
(通报编号, 工单编号, 通报类型); its order by (layout source, 工单编号). A line whose order is unknown is
stored unlinked and reported (a later import links it once the order is here); a line repeated within the
file is reported and kept once. A row that cannot be read (a blank required cell, a date that is no date)
stops the whole file: nothing of it is stored, and every such row is named with its field and value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import compute_due, end_of_local_day
from tracker.domain.errors import TrackerError
from tracker.domain.labels import format_local
from tracker.domain.vocabulary import CheckAction, CheckStatus
from tracker.models import HotlineNotice, NoticeCheck, Order
from tracker.services.accounts import Actor
from tracker.services.imports import ExportFileError, Limits, parse_datetime, table_rows
from tracker.services.orders import VerificationRule, verification_rule
from tracker.services.verifications.audit import audit
from tracker.services.verifications.layout import NOTICE_FIELDS, REQUIRED_FIELDS, NoticeLayout

HEADER_SCAN_ROWS = 20
KEY_LENGTH = 64  # 通报编号, 工单编号, 通报类型 as stored


class NoticeFileError(TrackerError):
    """The 通报 file as a whole cannot be imported; nothing from it is stored."""


@dataclass(frozen=True)
class RowError:
    """A row that cannot be read: its number, field, value and why."""

    row: int
    field: str
    value: str
    reason: str

    def message(self) -> str:
        """The error as a supervisor reads it."""
        return f"第 {self.row} 行「{self.field}」为「{self.value}」：{self.reason}"


@dataclass
class NoticeImportReport:
    """What an import of a 通报 file did (or, with ``errors``, why it stored nothing)."""

    file_name: str
    notices: list[str] = field(default_factory=list)  # 通报编号 in the file, in order
    new_notices: list[str] = field(default_factory=list)
    created: int = 0
    unchanged: int = 0
    linked: list[tuple[int, str]] = field(default_factory=list)  # (row, 工单编号) found on this import
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (row, 工单编号) still without an order
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # (row, 工单编号, first row)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # blank rows

    @property
    def stored(self) -> bool:
        """Whether the file's lines were stored (an error stores nothing)."""
        return not self.errors

    def lines(self) -> list[str]:
        """The report in Chinese, one sentence a line."""
        if self.errors:
            return [
                f"文件「{self.file_name}」有 {len(self.errors)} 处错误，未导入任何内容：",
                *(e.message() for e in self.errors),
            ]
        out = [
            f"文件「{self.file_name}」：通报 {len(self.notices)} 份（新 {len(self.new_notices)} 份），"
            f"新增核查 {self.created} 条，已存在未改动 {self.unchanged} 条"
        ]
        out += [f"第 {row} 行工单「{no}」此前未找到，现已关联" for row, no in self.linked]
        out += [
            f"第 {row} 行工单「{no}」在系统中不存在：已记下该核查，待该工单导入后关联；请核对工单编号"
            for row, no in self.unknown
        ]
        out += [
            f"第 {row} 行与第 {first} 行重复（工单「{no}」、同一通报类型），只记一条"
            for row, no, first in self.duplicates
        ]
        return out


@dataclass(frozen=True)
class _Line:
    row: int
    notice_no: str
    order_no: str
    kind: str
    notice_date: date | None
    requirement: str
    due_at: datetime | None  # 反馈时限 as given


def import_notice(
    session: Session,
    path: Path,
    *,
    layout: NoticeLayout,
    actor: Actor,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits | None = None,
    file_name: str | None = None,
) -> NoticeImportReport:
    """Read a 通报 file and store its lines as 核查 (flushes; the caller commits)."""
    name = file_name or path.name
    report = NoticeImportReport(name)
    try:
        rows = list(table_rows(path, limits=limits or Limits()))
    except ExportFileError as exc:
        raise NoticeFileError(exc.message.replace(f"「{path.name}」", f"「{name}」")) from None
    header_row, columns = _find_header(rows, layout, name)
    header = rows[header_row - 1][1]
    lines: list[_Line] = []
    first_row: dict[tuple[str, str, str], int] = {}
    for number, cells in rows[header_row:]:
        values = {f: cells[i].strip() if i < len(cells) else "" for f, i in columns.items()}
        if not any(cells):
            report.skipped.append(number)
            continue
        if all(values[f] == header[i] for f, i in columns.items()):
            report.skipped.append(number)  # the header repeated (a file pasted together from pages)
            continue
        line = _parse_line(number, values, layout, report.errors)
        if line is None:
            continue
        key = (line.notice_no, line.order_no, line.kind)
        if key in first_row:
            report.duplicates.append((number, line.order_no, first_row[key]))
            continue
        first_row[key] = number
        lines.append(line)
    if report.errors:
        return report
    if not lines:
        raise NoticeFileError(f"文件「{name}」第 {header_row} 行表头之下没有通报内容，未导入任何内容")
    _store(session, lines, report, layout=layout, actor=actor, now=now, calendar=calendar, file_name=name)
    return report


def _find_header(rows: list[tuple[int, list[str]]], layout: NoticeLayout, name: str) -> tuple[int, dict[str, int]]:
    """The header's row number and the column of each 通报 field found in it."""
    for position, (number, cells) in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            found = layout.field_for(cell) if cell else None
            if found is None:
                continue
            if found in columns:
                raise NoticeFileError(
                    f"文件「{name}」第 {number} 行表头中，第 {columns[found] + 1} 列与第 {index + 1} 列都对应"
                    f"「{found}」，无法判断以哪一列为准，未导入任何内容"
                )
            columns[found] = index
        if len(columns) >= 2 and "工单编号" in columns:
            missing = [f for f in REQUIRED_FIELDS if f not in columns]
            if missing:
                shown = "、".join(c for c in cells if c)
                raise NoticeFileError(
                    f"文件「{name}」缺少必需列「{'」「'.join(missing)}」；第 {number} 行表头为：{shown}"
                )
            return position + 1, columns
    expected = "、".join(NOTICE_FIELDS[:3])
    raise NoticeFileError(f"文件「{name}」前 {HEADER_SCAN_ROWS} 行中找不到通报表头（应含「{expected}」等列名）")


def _parse_line(number: int, values: dict[str, str], layout: NoticeLayout, errors: list[RowError]) -> _Line | None:
    """One row as a line, or None with its errors appended."""
    before = len(errors)
    for required in REQUIRED_FIELDS:
        if not values.get(required):
            errors.append(RowError(number, required, "", "不能为空"))
        elif len(values[required]) > KEY_LENGTH:
            errors.append(RowError(number, required, values[required][:20] + "…", f"超过 {KEY_LENGTH} 个字符"))
    notice_date: date | None = None
    due_at: datetime | None = None
    for name in ("通报日期", "反馈时限"):
        text = values.get(name, "")
        try:
            parsed = parse_datetime(text, tz=layout.timezone)
        except ValueError as exc:
            errors.append(RowError(number, name, text, str(exc)))
            continue
        if parsed is None:
            continue
        if name == "通报日期":
            notice_date = parsed.date()
        elif ":" not in text and parsed.time() == time(0, 0):  # a date alone: the whole of that day
            due_at = end_of_local_day(parsed.date())
        else:
            due_at = parsed
    if len(errors) > before:
        return None
    return _Line(
        row=number,
        notice_no=values["通报编号"],
        order_no=values["工单编号"],
        kind=values["通报类型"],
        notice_date=notice_date,
        requirement=values.get("通报内容", ""),
        due_at=due_at,
    )


def _store(
    session: Session,
    lines: list[_Line],
    report: NoticeImportReport,
    *,
    layout: NoticeLayout,
    actor: Actor,
    now: datetime,
    calendar: WorkCalendar,
    file_name: str,
) -> None:
    """Upsert the notices and their lines; deadlines are computed before anything is written."""
    rule = verification_rule(session)
    dues = {line.row: _due(line, rule, calendar, now) for line in lines}  # may refuse: nothing written
    numbers = sorted({line.order_no for line in lines})
    orders = dict(
        session.exec(
            select(Order.order_no, Order.id).where(Order.source == layout.source, col(Order.order_no).in_(numbers))
        ).all()
    )
    notices: dict[str, HotlineNotice] = {}
    for line in lines:
        if line.notice_no in notices:
            continue
        notice = session.exec(
            select(HotlineNotice).where(
                HotlineNotice.source == layout.source, HotlineNotice.notice_no == line.notice_no
            )
        ).first()
        if notice is None:
            notice = HotlineNotice(
                source=layout.source,
                notice_no=line.notice_no,
                file_name=file_name[:255],
                imported_at=now,
                imported_by=actor.id,
                imported_by_name=actor.name,
            )
            session.add(notice)
            session.flush()
            report.new_notices.append(line.notice_no)
        notices[line.notice_no] = notice
        report.notices.append(line.notice_no)
    for line in lines:
        notice = notices[line.notice_no]
        order_id = orders.get(line.order_no)
        existing = session.exec(
            select(NoticeCheck).where(
                NoticeCheck.notice_id == notice.id, NoticeCheck.order_no == line.order_no, NoticeCheck.kind == line.kind
            )
        ).first()
        if existing is not None:
            report.unchanged += 1
            if existing.order_id is None and order_id is not None:
                existing.order_id = order_id
                session.add(existing)
                audit(session, existing, CheckAction.LINK, actor, now, note=f"文件「{file_name}」第 {line.row} 行")
                report.linked.append((line.row, line.order_no))
            elif existing.order_id is None:
                report.unknown.append((line.row, line.order_no))
            continue
        due_at, basis, label = dues[line.row]
        check = NoticeCheck(
            notice_id=notice.id,  # type: ignore[arg-type]
            line_no=line.row,
            order_no=line.order_no,
            order_id=order_id,
            kind=line.kind,
            notice_date=line.notice_date,
            requirement=line.requirement,
            due_at=due_at,
            due_basis=basis,
            rule_label=label,
            status=CheckStatus.PENDING.value,
        )
        session.add(check)
        session.flush()
        audit(
            session,
            check,
            CheckAction.IMPORT,
            actor,
            now,
            note=(
                f"通报「{line.notice_no}」，文件「{file_name}」第 {line.row} 行；"
                f"核查期限 {format_local(due_at)}（{label}）"
            ),
        )
        report.created += 1
        if order_id is None:
            report.unknown.append((line.row, line.order_no))
    session.flush()


def _due(line: _Line, rule: VerificationRule, calendar: WorkCalendar, now: datetime) -> tuple[datetime, str, str]:
    """The 核查 deadline: the notice's 反馈时限, else the rule counted from the notice date (else from now)."""
    if line.due_at is not None:
        return line.due_at, "notice", "通报反馈时限"
    start = end_of_local_day(line.notice_date) if line.notice_date is not None else now
    return compute_due(start, rule.amount, rule.unit, calendar), "rule", rule.label()
