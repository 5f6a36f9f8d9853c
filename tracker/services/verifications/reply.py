"""The reply to the centre and the notice list: a notice's accepted answers as an XLSX in the centre's column
order (the layout's ``[[reply]]``), formula-safe, personal data masked; each notice's progress."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from openpyxl import Workbook
from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tracker.domain.labels import NO_STREET, format_local
from tracker.domain.privacy import mask_address, mask_name, mask_phone, mask_phones_in_text
from tracker.domain.roles import is_district_wide
from tracker.domain.spreadsheets import formula_safe
from tracker.domain.vocabulary import CheckStatus
from tracker.models import HotlineNotice, NoticeCheck, Order
from tracker.services.accounts import Viewer
from tracker.services.verifications.layout import NoticeLayout


def _cell(field: str, notice: HotlineNotice, check: NoticeCheck, order: Order | None) -> object:
    """One reply cell: the 核查's own words with any phone number masked, the order's personal data masked."""
    if field == "notice_no":
        return notice.notice_no
    if field == "order_no":
        return check.order_no
    if field == "kind":
        return check.kind
    if field == "notice_date":
        return check.notice_date.isoformat() if check.notice_date else ""
    if field == "street":
        return (order.street if order else None) or NO_STREET
    if field == "conclusion":
        return check.conclusion or ""
    if field == "cause":
        return mask_phones_in_text(check.cause)
    if field == "measures":
        return mask_phones_in_text(check.measures)
    if field == "answered_at":
        return format_local(check.answered_at)
    if field == "on_time":
        return "是" if check.answered_at and check.answered_at <= check.due_at else "否"
    if field == "address":
        return mask_address(order.address if order else None)
    if field == "citizen":
        return mask_name(order.complainant if order else None)
    if field == "phone":
        return mask_phone(order.phone if order else None)
    raise ValueError(field)  # the layout checked its fields when it was loaded


def reply_xlsx(session: Session, *, notice_id: int, layout: NoticeLayout) -> tuple[bytes, str, int] | None:
    """(the workbook, the notice number, how many answers) of a notice's accepted 核查; None for an unknown notice."""
    notice = session.get(HotlineNotice, notice_id)
    if notice is None:
        return None
    rows = session.exec(
        select(NoticeCheck, Order)
        .outerjoin(Order, col(Order.id) == col(NoticeCheck.order_id))
        .where(NoticeCheck.notice_id == notice_id, NoticeCheck.status == CheckStatus.ACCEPTED.value)
        .order_by(col(NoticeCheck.line_no), col(NoticeCheck.id))
    ).all()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("核查反馈")
    sheet.append([formula_safe(header) for header, _ in layout.reply])
    for check, order in rows:
        sheet.append([formula_safe(_cell(field, notice, check, order)) for _, field in layout.reply])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), notice.notice_no, len(rows)


@dataclass(frozen=True)
class NoticeLine:
    """A notice and how far its 核查 are (the bureau's list)."""

    notice: HotlineNotice
    total: int
    unlinked: int  # lines whose order is not here yet
    answered: int  # waiting for the bureau
    accepted: int


def notice_list(session: Session, *, viewer: Viewer, limit: int = 200) -> list[NoticeLine]:
    """The newest notices with their progress (the bureau only; a squad sees its 核查 on its orders)."""
    if not is_district_wide(viewer.role):
        return []
    status = col(NoticeCheck.status)
    rows = session.execute(
        sa_select(
            HotlineNotice,
            func.count(col(NoticeCheck.id)),
            func.sum(case((col(NoticeCheck.order_id).is_(None), 1), else_=0)),
            func.sum(case((status == CheckStatus.ANSWERED.value, 1), else_=0)),
            func.sum(case((status == CheckStatus.ACCEPTED.value, 1), else_=0)),
        )
        .join(NoticeCheck, col(NoticeCheck.notice_id) == col(HotlineNotice.id))
        .group_by(col(HotlineNotice.id))
        .order_by(col(HotlineNotice.imported_at).desc(), col(HotlineNotice.id).desc())
        .limit(limit)
    ).all()
    return [NoticeLine(n, int(t), int(u or 0), int(a or 0), int(c or 0)) for n, t, u, a, c in rows]
