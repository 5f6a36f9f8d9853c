"""The filtered order list as XLSX: phone and name masked, formula-looking text neutralised."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from sqlmodel import Session, col, select

from tracker.domain import labels
from tracker.domain.errors import TrackerError
from tracker.domain.privacy import mask_name, mask_phone, mask_phones_in_text
from tracker.domain.spreadsheets import formula_safe
from tracker.domain.vocabulary import State
from tracker.models import Order
from tracker.services.accounts import Viewer, scoped
from tracker.services.orders.overview import SORTS, OrderFilter

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


def export_orders(session: Session, *, viewer: Viewer, filters: OrderFilter, max_rows: int = EXPORT_MAX_ROWS) -> bytes:
    """The viewer's filtered orders as an XLSX file (streamed row by row, masked)."""
    query = scoped(filters.where(select(Order)), viewer)
    query = query.order_by(SORTS.get(filters.sort, SORTS["dispatched_desc"])[1], col(Order.id).desc())
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("工单")
    sheet.append([title for title, _ in EXPORT_COLUMNS])
    for count, order in enumerate(session.exec(query.limit(max_rows + 1)), start=1):
        if count > max_rows:
            raise ExportTooLarge(f"筛选结果超过 {max_rows} 件，请缩小日期范围或增加筛选条件后再导出。")
        sheet.append([cell_value(order, field) for _, field in EXPORT_COLUMNS])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
