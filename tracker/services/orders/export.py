"""The filtered order list as XLSX: phone and name masked, formula-looking text neutralised."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from io import BytesIO
from itertools import islice

from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import Session, select

from tracker.domain import labels
from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import AlertThresholds
from tracker.domain.errors import TrackerError
from tracker.domain.overdue import LEVEL_SHORT, LEVELS_WORST_FIRST, UNIT_ORDERS, UNIT_STAGES
from tracker.domain.privacy import mask_name, mask_phone, mask_phones_in_text
from tracker.domain.spreadsheets import formula_safe
from tracker.domain.vocabulary import State
from tracker.models import Order, utcnow
from tracker.services.accounts import Viewer, scoped
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.counts import bounds_at, live_counts
from tracker.services.orders.overview import OrderFilter, OrderLine, lines_for, ordered_orders

EXPORT_MAX_ROWS = 100_000

EXPORT_COLUMNS = (
    ("工单编号", "order_no"),
    ("来源", "source"),
    ("街镇", "street"),
    ("承办单位", "handling_unit"),
    ("诉求类型", "request_type"),
    ("问题分类", "category"),
    ("诉求内容", "content"),
    ("地址", "address"),
    ("诉求人", "complainant"),
    ("联系电话", "phone"),
    ("派单时间", "dispatched_at"),
    ("状态", "state"),
    ("轮次", "cycle"),
    ("先行联系时间", "contact_at"),
    ("办结时间", "closed_at"),
    ("结案评判", "verdict"),
    ("满意度", "satisfaction"),
)
NEXT_COLUMNS = ("下一期限", "下一期限阶段", "预警级别")
ORDERS_SHEET = "工单"
CURRENT_SHEET = "当前预警"
CHUNK = 500  # orders whose open deadlines are read in one query


class ExportTooLarge(TrackerError):
    """More rows than one export may hold."""


def cell_value(order: Order, field: str) -> object:
    """What one cell shows: masked personal data, Chinese labels, local times, formula-safe text.

    Text is neutralised last, after masking: a name "=A1" masks to "=**", which must not become a formula.
    """
    value = getattr(order, field)
    shown: object
    if field == "phone":
        shown = mask_phone(value)
    elif field == "complainant":
        shown = mask_name(value)
    elif field == "state":
        shown = labels.STATE_LABELS[State(value)]
    elif field.endswith("_at"):
        shown = labels.format_local(value)
    elif isinstance(value, str):
        shown = mask_phones_in_text(value)
    else:
        shown = value if value is not None else ""
    return formula_safe(shown)


def next_cells(line: OrderLine) -> list[object]:
    """The next open deadline of a line, its stage and its live alert level (as the list page shows them)."""
    view = line.next
    if view is None:
        return ["", "", ""]
    level = labels.ALERT_LABELS[view.level] if view.level else ""
    return [labels.format_local(view.row.due_at), labels.STAGE_LABELS[view.stage], level]


def _lines(
    session: Session,
    orders: Iterator[Order],
    now: datetime,
    calendar: WorkCalendar,
    thresholds: AlertThresholds | None = None,
) -> Iterator[OrderLine]:
    while chunk := list(islice(orders, CHUNK)):
        yield from lines_for(session, chunk, now=now, calendar=calendar, thresholds=thresholds)


def export_orders(
    session: Session,
    *,
    viewer: Viewer,
    filters: OrderFilter,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    max_rows: int = EXPORT_MAX_ROWS,
    thresholds: AlertThresholds | None = None,
) -> bytes:
    """The viewer's filtered orders as an XLSX file (the sheets of :func:`export_order_sheets`)."""
    sheets = export_order_sheets(
        session, viewer=viewer, filters=filters, now=now, calendar=calendar, max_rows=max_rows, thresholds=thresholds
    )
    return sheets_xlsx(sheets)


def sheets_xlsx(sheets: dict[str, Iterable[list[object]]]) -> bytes:
    """Sheets of ready cells (masked, formula-safe) as one workbook, in order."""
    workbook = Workbook(write_only=True)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_order_sheets(
    session: Session,
    *,
    viewer: Viewer,
    filters: OrderFilter,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    max_rows: int = EXPORT_MAX_ROWS,
    thresholds: AlertThresholds | None = None,
) -> dict[str, Iterable[list[object]]]:
    """The viewer's filtered orders in list order (masked, formula-safe) as sheet 工单, and a sheet 当前预警 with
    the viewer's live counts (counts.live_counts: the same numbers as the pages); the XLSX and the CSV export are
    both written from these cells.

    The 工单 rows are produced lazily, read in chunks as they are written (a 100,000-row export is never held
    in memory); more than ``max_rows`` raises :class:`ExportTooLarge` here, before anything is produced.

    ``now`` and ``calendar`` give the alert level of each next deadline (default: the clock, the stored calendar).
    """
    now = now or utcnow()
    calendar = calendar or load_calendar(session)
    bounds = bounds_at(now, calendar, thresholds)
    query = scoped(filters.where(select(Order), bounds=bounds), viewer)
    too_large = f"筛选结果超过 {max_rows} 件，请缩小日期范围或增加筛选条件后再导出。"
    if session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one() > max_rows:
        raise ExportTooLarge(too_large)

    def order_rows() -> Iterator[list[object]]:
        yield [*(title for title, _ in EXPORT_COLUMNS), *NEXT_COLUMNS]
        orders = ordered_orders(session, query, filters.sort, limit=max_rows + 1)
        for count, line in enumerate(_lines(session, orders, now, calendar, thresholds), start=1):
            if count > max_rows:  # orders added since the count above
                raise ExportTooLarge(too_large)
            yield [cell_value(line.order, field) for _, field in EXPORT_COLUMNS] + next_cells(line)

    current = live_counts(session, viewer=viewer, bounds=bounds, street=filters.street, category=filters.category)
    summary: list[list[object]] = []
    summary.append([f"当前预警（{current.as_of_label}，{labels.format_local(now)}；不限派单日期）"])
    summary.append(["预警级别", f"工单（{UNIT_ORDERS}，按最紧急的未完成环节计）", f"环节（{UNIT_STAGES}）"])
    for level in LEVELS_WORST_FIRST:
        summary.append([LEVEL_SHORT[level], current.orders[level], current.stages[level]])
    return {ORDERS_SHEET: order_rows(), CURRENT_SHEET: summary}
